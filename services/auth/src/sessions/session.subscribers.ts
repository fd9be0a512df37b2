/**
 * The auth service's own consumers of its revocation events. The request
 * that ends a session or deletes an account writes the revocation key right
 * after its commit; these consumers write it again from the committed event,
 * so the key is set even when the process died between the commit and that
 * write, or when the key-value store was briefly down (the event is
 * redelivered until the write succeeds). Setting a key is idempotent.
 */
import { filterOf } from '@parley/contracts';
import type { ConsumerHandle, Consumers } from '@parley/service-kit';
import { REVOCATION_TTL_MS, type RevocationWriter } from './session-revocation';

/** An event older than this can no longer stop any token: nothing to write. */
function stillMatters(at: string): boolean {
  return Date.now() - Date.parse(at) < REVOCATION_TTL_MS;
}

export async function startRevocationSubscribers(
  consumers: Consumers,
  revocations: RevocationWriter,
): Promise<ConsumerHandle[]> {
  const sessionRevoked = await consumers.onEvent(
    { stream: 'auth', durable: 'auth-session-revoked', filter: filterOf('session.revoked') },
    async (event) => {
      if (event.type !== 'session.revoked' || !stillMatters(event.data.revokedAt)) return;
      await revocations.revokeSessions([event.data.sessionId], new Date(event.data.revokedAt));
    },
  );
  const userDeleted = await consumers.onEvent(
    { stream: 'auth', durable: 'auth-user-deleted', filter: filterOf('user.deleted') },
    async (event) => {
      if (event.type !== 'user.deleted' || !stillMatters(event.data.deletedAt)) return;
      await revocations.revokeUser(event.data.userId, new Date(event.data.deletedAt));
    },
  );
  return [sessionRevoked, userDeleted];
}
