/**
 * The users read model from auth's events, and the reaction to account
 * deletion (the user leaves every conversation; see
 * ConversationService.purgeDeletedUser). The deletion work runs in its own
 * transactions before the event is acked: a crash half-way redelivers the
 * event and the purge finishes what is left.
 */
import { type EventData, filterOf } from '@parley/contracts';
import type { Consumers } from '@parley/service-kit';
import type { ConversationService } from '../conversations/conversation.service';
import type { UserDirectory } from './user.service';

export async function registerUserSubscribers(
  consumers: Consumers,
  users: UserDirectory,
  conversations: ConversationService,
) {
  for (const type of ['user.created', 'user.updated'] as const) {
    await consumers.on(
      { stream: 'auth', durable: `conversation-${type.replace('.', '-')}`, filter: filterOf(type) },
      async (event, tx) => {
        await users.applyUserUpserted(tx, (event.data as EventData<typeof type>).user);
      },
    );
  }
  // Not one transaction: the purge settles each conversation in its own, and is idempotent by itself.
  await consumers.onEvent(
    {
      stream: 'auth',
      durable: 'conversation-user-deleted',
      filter: filterOf('user.deleted'),
      // A deletion must complete: keep retrying through a long outage (about 45 minutes)
      // rather than dead-letter it after the default handful of tries.
      maxDeliver: 50,
      backoffMs: [500, 2000, 10_000, 30_000, 60_000],
    },
    async (event) => {
      const d = event.data as EventData<'user.deleted'>;
      await conversations.purgeDeletedUser(d.userId, new Date(d.deletedAt));
    },
  );
}
