/**
 * Signs access tokens the way the auth service does, for tests of services
 * that verify them (no auth service needed): `createServiceApp({ auth: { keys: signer.keys } })`
 * and `Authorization: Bearer ${await signer.sign({ userId, sessionId })}`.
 */
import { randomUUID } from 'node:crypto';
import { type JSONWebKeySet, SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWKSource } from './verify';

export interface TestSigner {
  kid: string;
  alg: 'EdDSA' | 'ES256';
  jwks: JSONWebKeySet;
  /** A key source serving `jwks` (counts its calls in `fetches`). */
  keys: JWKSource;
  fetches: number;
  sign(claims: {
    userId: string;
    sessionId?: string;
    /** Seconds until expiry (default 900); negative for an expired token. */
    expiresInSec?: number;
    /** Issued-at, seconds since epoch (default now). */
    iat?: number;
    issuer?: string;
    audience?: string;
  }): Promise<string>;
}

export async function createTestSigner(
  opts: { alg?: 'EdDSA' | 'ES256'; issuer?: string; audience?: string } = {},
): Promise<TestSigner> {
  const alg = opts.alg ?? 'EdDSA';
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const signer: TestSigner = {
    kid,
    alg,
    jwks: { keys: [jwk] },
    fetches: 0,
    keys: async () => {
      signer.fetches++;
      return signer.jwks;
    },
    async sign(claims) {
      const iat = claims.iat ?? Math.floor(Date.now() / 1000);
      return new SignJWT({ sid: claims.sessionId ?? randomUUID() })
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .setSubject(claims.userId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + (claims.expiresInSec ?? 900))
        .setIssuer(claims.issuer ?? opts.issuer ?? 'parley')
        .setAudience(claims.audience ?? opts.audience ?? 'parley')
        .sign(privateKey);
    },
  };
  return signer;
}
