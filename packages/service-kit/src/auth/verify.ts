/**
 * Access-token verification, done by every service (defence in depth, not
 * only the gateway). Tokens are JWTs signed by the auth service with EdDSA or
 * ES256; the public keys come from a JWKS source (by default the auth
 * service's `RPC.authJwks` over the bus), cached and refetched when a token
 * names an unknown key id (at most once per second, so garbage kids cannot
 * hammer the auth service).
 *
 * Revocation: the auth service writes `revokedSessionKey(sid)` on logout and
 * refresh-token reuse, and `revokedUserKey(userId)` = ms epoch on account
 * deletion. A token is refused when its session is revoked, or its user was
 * revoked at or after the token was issued.
 *
 * When the key-value store is down, revocation checks FAIL OPEN (the token is
 * accepted, a warning is logged at most every 10 s): losing Redis must not
 * take chat down (ARCHITECTURE.md, Storage), and an access token lives 15
 * minutes at most. Everything else fails closed: 401 for any token problem,
 * 503 when no keys can be obtained at all.
 */
import { type JSONWebKeySet, type JWTVerifyGetKey, createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { Logger } from 'pino';
import type { KeyValue } from '../kv/key-value';
import { ApiError, unauthorized, unavailable } from '../http/errors';

export type { JSONWebKeySet };

/** Where public signing keys come from. */
export type JWKSource = () => Promise<JSONWebKeySet>;

export const ACCESS_TOKEN_ALGORITHMS = ['EdDSA', 'ES256'] as const;

export const revokedSessionKey = (sessionId: string) => `revoked-session:${sessionId}`;
export const revokedUserKey = (userId: string) => `revoked-user:${userId}`;

export interface KeyStoreOptions {
  /** Minimum time between two fetches triggered by unknown key ids (default 1000 ms). */
  minRefreshIntervalMs?: number;
  /** Keys older than this are refetched on next use (default 5 min); stale keys are kept if the fetch fails. */
  maxAgeMs?: number;
  now?: () => number;
}

/** Caches a JWKS and refetches it on unknown kid, at most once per `minRefreshIntervalMs`. */
export class JwksKeyStore {
  private keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private readonly minRefreshIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly source: JWKSource,
    opts: KeyStoreOptions = {},
  ) {
    this.minRefreshIntervalMs = opts.minRefreshIntervalMs ?? 1000;
    this.maxAgeMs = opts.maxAgeMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Key resolver for `jwtVerify`. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.keySet) await this.refresh(true);
    else if (this.now() - this.fetchedAt > this.maxAgeMs) await this.refresh(false);
    try {
      return await this.keySet!(header, token);
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey && this.now() - this.fetchedAt >= this.minRefreshIntervalMs) {
        await this.refresh(true);
        return await this.keySet!(header, token);
      }
      throw err;
    }
  };

  /** Fetches the keys now; with `required`, a failure is thrown, else stale keys are kept. */
  async refresh(required: boolean): Promise<void> {
    this.inFlight ??= (async () => {
      try {
        const jwks = await this.source();
        if (!jwks || !Array.isArray(jwks.keys)) throw new Error('JWKS source returned no keys array');
        this.keySet = createLocalJWKSet({ keys: jwks.keys });
      } finally {
        // A failed fetch also counts, so an outage is not retried on every request.
        this.fetchedAt = this.now();
      }
    })().finally(() => {
      this.inFlight = undefined;
    });
    try {
      await this.inFlight;
    } catch (err) {
      if (required || !this.keySet) throw new KeySourceError(err);
    }
  }
}

export class KeySourceError extends Error {
  constructor(cause: unknown) {
    super('could not fetch the token signing keys', { cause });
    this.name = 'KeySourceError';
  }
}

const stores = new WeakMap<JWKSource, JwksKeyStore>();
/** One cached key store per source function. */
export function keyStoreFor(keys: JWKSource | JwksKeyStore): JwksKeyStore {
  if (keys instanceof JwksKeyStore) return keys;
  let store = stores.get(keys);
  if (!store) {
    store = new JwksKeyStore(keys);
    stores.set(keys, store);
  }
  return store;
}

export interface VerifyOptions {
  keys: JWKSource | JwksKeyStore;
  issuer: string;
  audience: string;
  /** Revocation lists; without it, revocation is not checked. */
  kv?: KeyValue;
  logger?: Pick<Logger, 'warn'>;
  /** Seconds of clock skew tolerated on exp/iat/nbf (default 5). */
  clockToleranceSec?: number;
  /** Current time, for tests. */
  currentDate?: Date;
}

export interface VerifiedToken {
  userId: string;
  sessionId: string;
  /** Seconds since epoch. */
  exp: number;
  iat: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
let lastKvWarning = 0;

/**
 * Verifies an access token and its revocation state. Throws ApiError 401
 * `unauthorized` for any token problem, 503 `unavailable` when no keys can
 * be fetched.
 */
export async function verifyAccessToken(token: string, opts: VerifyOptions): Promise<VerifiedToken> {
  const store = keyStoreFor(opts.keys);
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, store.getKey, {
      algorithms: [...ACCESS_TOKEN_ALGORITHMS],
      issuer: opts.issuer,
      audience: opts.audience,
      clockTolerance: opts.clockToleranceSec ?? 5,
      requiredClaims: ['sub', 'sid', 'iat', 'exp'],
      currentDate: opts.currentDate,
    }));
  } catch (err) {
    if (err instanceof KeySourceError) throw unavailable('token keys are unavailable, retry later', err);
    throw unauthorized(describeJoseError(err));
  }
  const { sub, sid, iat, exp } = payload;
  if (typeof sub !== 'string' || !UUID.test(sub)) throw unauthorized('invalid token subject');
  if (typeof sid !== 'string' || sid.length === 0 || sid.length > 128) throw unauthorized('invalid token session');
  if (typeof iat !== 'number' || typeof exp !== 'number') throw unauthorized('invalid token times');

  if (opts.kv) {
    let revokedSession: string | null = null;
    let revokedUserAt: string | null = null;
    try {
      [revokedSession, revokedUserAt] = await opts.kv.mget([revokedSessionKey(sid), revokedUserKey(sub)]);
    } catch (err) {
      if (Date.now() - lastKvWarning > 10_000) {
        lastKvWarning = Date.now();
        opts.logger?.warn({ err }, 'revocation check skipped: key-value store unavailable (failing open)');
      }
    }
    if (revokedSession !== null) throw unauthorized('session ended');
    if (revokedUserAt !== null) {
      const at = Number(revokedUserAt);
      // A malformed value revokes: it was written to revoke.
      if (!Number.isFinite(at) || at >= iat * 1000) throw unauthorized('session ended');
    }
  }
  return { userId: sub, sessionId: sid, exp, iat };
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `invalid token claim ${err.claim}`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'unknown signing key';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'invalid token signature';
  if (err instanceof ApiError) return err.message;
  return 'invalid token';
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(header);
  return match?.[1];
}
