/**
 * Writes the revocation keys that every service's auth plugin checks
 * (`revokedSessionKey(sid)`, `revokedUserKey(userId)`), so an ended session's
 * access tokens stop working everywhere at once. The keys live at least as
 * long as an access token (plus a margin for clock skew): after that, every
 * token they could stop has expired anyway.
 */
import { type KeyValue, revokedSessionKey, revokedUserKey } from '@parley/service-kit';
import { ACCESS_TOKEN_SECONDS } from './tokens';

export const REVOCATION_TTL_MS = (ACCESS_TOKEN_SECONDS + 5 * 60) * 1000;

export function createRevocationWriter(kv: KeyValue) {
  return {
    async revokeSessions(sessionIds: string[], revokedAt: Date): Promise<void> {
      await Promise.all(
        sessionIds.map((sid) =>
          kv.set(revokedSessionKey(sid), String(revokedAt.getTime()), { ttlMs: REVOCATION_TTL_MS }),
        ),
      );
    },
    /** Every token of the user issued up to `revokedAt` (ms) is refused. */
    async revokeUser(userId: string, revokedAt: Date): Promise<void> {
      await kv.set(revokedUserKey(userId), String(revokedAt.getTime()), { ttlMs: REVOCATION_TTL_MS });
    },
  };
}
export type RevocationWriter = ReturnType<typeof createRevocationWriter>;
