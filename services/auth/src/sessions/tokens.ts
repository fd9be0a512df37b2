/**
 * The two tokens a session hands out. Access token: a JWT signed with the
 * current Ed25519 key (`kid` header), 15 minutes, claims sub, sid, iat, exp,
 * iss, aud. Refresh token: 32 random bytes (base64url), opaque to clients;
 * the server keeps only its SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { LIMITS } from '@parley/contracts';
import { SignJWT } from 'jose';
import type { SigningKey } from '../keys/signing-key.service';

export const ACCESS_TOKEN_SECONDS = LIMITS.accessTokenSeconds;

export interface AccessTokenClaims {
  userId: string;
  sessionId: string;
}

export async function signAccessToken(
  key: SigningKey,
  claims: AccessTokenClaims,
  opts: { issuer: string; audience: string; now?: Date },
): Promise<string> {
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ sid: claims.sessionId })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setSubject(claims.userId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_SECONDS)
    .setIssuer(opts.issuer)
    .setAudience(opts.audience)
    .sign(key.privateKey);
}

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
