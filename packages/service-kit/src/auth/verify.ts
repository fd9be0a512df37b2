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
 * Verified-signature cache: the EdDSA/ES256 check and the claim checks are
 * done once per token, then a bounded LRU (per key store) answers the same
 * token string again (a client sends the same token with every request; the
 * gateway forwards it on every WebSocket send). An entry is used for at most
 * `verifiedCacheTtlMs` (default 60 s) and never past the token's `exp` (plus
 * the clock tolerance, as jose allows), only for the issuer and audience it
 * was verified for, and the whole cache is dropped when the key set changes
 * (a removed key stops verifying its tokens at once). Revocation is NOT
 * cached: it is read on every call, as before.
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
  /** Verified tokens kept (default 10,000; 0 turns the cache off). */
  verifiedCacheMaxEntries?: number;
  /** Longest an entry answers without a new signature check (default 60 s; never past the token's exp). */
  verifiedCacheTtlMs?: number;
}

interface VerifiedEntry {
  token: VerifiedToken;
  /** ms epoch after which the entry is not used. */
  until: number;
}

/**
 * Tokens whose signature and claims were verified, least recently used first
 * out (a Map keeps insertion order; a hit moves the entry to the end).
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedEntry>();

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): VerifiedToken | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (now > entry.until) return undefined;
    this.entries.set(key, entry);
    return entry.token;
  }

  /** Keeps `token` until `min(now + ttl, expiresAt)`. */
  set(key: string, token: VerifiedToken, now: number, expiresAt: number): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { token, until: Math.min(now + this.ttlMs, expiresAt) });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Caches a JWKS and refetches it on unknown kid, at most once per `minRefreshIntervalMs`. */
export class JwksKeyStore {
  private keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private readonly minRefreshIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private keysFingerprint: string | undefined;
  /** Tokens verified against this store's keys; dropped whenever the key set changes. */
  readonly verified: VerifiedTokenCache;

  constructor(
    private readonly source: JWKSource,
    opts: KeyStoreOptions = {},
  ) {
    this.minRefreshIntervalMs = opts.minRefreshIntervalMs ?? 1000;
    this.maxAgeMs = opts.maxAgeMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
    this.verified = new VerifiedTokenCache(opts.verifiedCacheMaxEntries ?? 10_000, opts.verifiedCacheTtlMs ?? 60_000);
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
        // A key removed (or replaced under its kid) must stop verifying the
        // tokens it signed, cached ones included.
        const fingerprint = JSON.stringify(jwks.keys);
        if (fingerprint !== this.keysFingerprint) this.verified.clear();
        this.keysFingerprint = fingerprint;
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
  const now = opts.currentDate?.getTime() ?? Date.now();
  const cacheKey = `${opts.issuer}\n${opts.audience}\n${token}`;
  const verified = store.verified.get(cacheKey, now) ?? (await verifySignature(token, store, opts, cacheKey, now));
  if (opts.kv) await checkRevocation(verified, opts.kv, opts.logger);
  return { ...verified };
}

/** Signature and claims (jose), then the cache entry. */
async function verifySignature(
  token: string,
  store: JwksKeyStore,
  opts: VerifyOptions,
  cacheKey: string,
  now: number,
): Promise<VerifiedToken> {
  const clockToleranceSec = opts.clockToleranceSec ?? 5;
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, store.getKey, {
      algorithms: [...ACCESS_TOKEN_ALGORITHMS],
      issuer: opts.issuer,
      audience: opts.audience,
      clockTolerance: clockToleranceSec,
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
  const verified: VerifiedToken = { userId: sub, sessionId: sid, exp, iat };
  // jose accepts the token until exp + tolerance; the cache never answers past that.
  store.verified.set(cacheKey, verified, now, (exp + clockToleranceSec) * 1000);
  return verified;
}

/** Refuses a token whose session or user was revoked (read on every call, never cached). */
async function checkRevocation(token: VerifiedToken, kv: KeyValue, logger: VerifyOptions['logger']): Promise<void> {
  let revokedSession: string | null = null;
  let revokedUserAt: string | null = null;
  try {
    [revokedSession, revokedUserAt] = await kv.mget([revokedSessionKey(token.sessionId), revokedUserKey(token.userId)]);
  } catch (err) {
    if (Date.now() - lastKvWarning > 10_000) {
      lastKvWarning = Date.now();
      logger?.warn({ err }, 'revocation check skipped: key-value store unavailable (failing open)');
    }
  }
  if (revokedSession !== null) throw unauthorized('session ended');
  if (revokedUserAt !== null) {
    const at = Number(revokedUserAt);
    // A malformed value revokes: it was written to revoke.
    if (!Number.isFinite(at) || at >= token.iat * 1000) throw unauthorized('session ended');
  }
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
