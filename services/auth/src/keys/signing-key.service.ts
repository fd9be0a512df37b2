/**
 * The signing key ring: which key signs access tokens now, and which public
 * keys are published (JWKS). Keys are Ed25519 (EdDSA), stored with the
 * private half encrypted. A key older than AUTH_KEY_ROTATION_DAYS is
 * replaced; the replaced key stays published until every token it signed
 * has expired (token lifetime plus a margin for replicas whose cache still
 * signs with it). Replicas share the keys through the database and re-read
 * them at most every `cacheMs`.
 */
import { calculateJwkThumbprint, type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { KeyEncryption } from './key-encryption';
import type { SigningKeyRepository, StoredSigningKey } from './signing-key.repository';

export const SIGNING_ALG = 'EdDSA';

export interface SigningKey {
  kid: string;
  alg: typeof SIGNING_ALG;
  privateKey: CryptoKey;
}

/** One public key as published in the JWKS (Ed25519: kty OKP, crv, x). */
export interface PublicJwk {
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
  kid: string;
  alg: string;
  use: 'sig';
}

interface KeyRingState {
  signing: SigningKey;
  jwks: PublicJwk[];
  /** When this replica read the keys (its clock, for the cache). */
  loadedAt: number;
  /** When the signing key was created (for rotation). */
  createdAt: Date;
}

export interface SigningKeyRingOptions {
  repository: SigningKeyRepository;
  encryption: KeyEncryption;
  rotationDays: number;
  /** Lifetime of the tokens the keys sign, in seconds. */
  tokenLifetimeSeconds: number;
  /** How long a replica trusts its cached view of the keys (default 60 s). */
  cacheMs?: number;
  now?: () => Date;
}

export function createSigningKeyRing(opts: SigningKeyRingOptions) {
  const now = opts.now ?? (() => new Date());
  const cacheMs = opts.cacheMs ?? 60_000;
  const rotationMs = opts.rotationDays * 24 * 3600 * 1000;
  // A retired key is published for the tokens it signed: their lifetime, plus
  // the cache period during which other replicas may still sign with it, plus slack.
  const publishAfterRetireMs = opts.tokenLifetimeSeconds * 1000 + 2 * cacheMs + 60_000;

  let cached: KeyRingState | null = null;
  let loading: Promise<KeyRingState> | null = null;

  async function newKeyPair(): Promise<Omit<StoredSigningKey, 'retiredAt' | 'createdAt'>> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { crv: 'Ed25519', extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    return {
      kid,
      alg: SIGNING_ALG,
      publicJwk: { ...publicJwk },
      privateKeyEncrypted: opts.encryption.encrypt(JSON.stringify(privateJwk), kid),
    };
  }

  function isDue(key: StoredSigningKey, at: Date): boolean {
    return at.getTime() - key.createdAt.getTime() >= rotationMs;
  }

  async function load(): Promise<KeyRingState> {
    const at = now();
    let current = await opts.repository.current();
    if (!current || isDue(current, at)) {
      current = await opts.repository.rotate(new Date(at.getTime() - rotationMs), at, newKeyPair);
    }
    const privateJwk = JSON.parse(opts.encryption.decrypt(current.privateKeyEncrypted, current.kid)) as JWK;
    const privateKey = (await importJWK(privateJwk, SIGNING_ALG)) as CryptoKey;
    const published = await opts.repository.published(new Date(at.getTime() - publishAfterRetireMs));
    const jwks = published.map((k): PublicJwk => {
      const jwk = k.publicJwk as JWK;
      return { kty: String(jwk.kty), crv: jwk.crv, x: jwk.x, kid: k.kid, alg: k.alg, use: 'sig' };
    });
    return {
      signing: { kid: current.kid, alg: SIGNING_ALG, privateKey },
      jwks,
      loadedAt: Date.now(),
      createdAt: current.createdAt,
    };
  }

  async function state(): Promise<KeyRingState> {
    const current = cached;
    if (
      current &&
      Date.now() - current.loadedAt < cacheMs &&
      now().getTime() - current.createdAt.getTime() < rotationMs
    ) {
      return current;
    }
    if (!loading) {
      loading = load().finally(() => {
        loading = null;
      });
    }
    const loaded = await loading;
    cached = loaded;
    return loaded;
  }

  return {
    /** Makes sure a usable key exists (creates the first one); fails fast on a wrong encryption secret. */
    async start(): Promise<void> {
      await state();
    },
    async signingKey(): Promise<SigningKey> {
      return (await state()).signing;
    },
    async jwks(): Promise<{ keys: PublicJwk[] }> {
      return { keys: (await state()).jwks };
    },
    /** Forgets the cached view (tests; operators rotating by hand). */
    invalidate(): void {
      cached = null;
    },
  };
}
export type SigningKeyRing = ReturnType<typeof createSigningKeyRing>;
