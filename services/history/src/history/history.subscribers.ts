/**
 * Durable consumers of the history service, one subject filter each, in the
 * kit's idempotent transaction. History publishes nothing, so it has no outbox.
 */
import { type AnyEventEnvelope, type EventData, type EventType, filterOf, type StreamKey } from '@parley/contracts';
import type { Consumers, Tx } from '@parley/service-kit';
import type { MembershipService } from '../membership/membership.service';
import type { HistoryService } from './history.service';

/**
 * Retries for about 25 minutes before an event is dead-lettered: handling
 * may need another service (membership over RPC) or the database, and an
 * event given up on is a lost notification, revision or erasure.
 */
export const RETRY = { maxDeliver: 30, backoffMs: [200, 1000, 5000, 15_000, 30_000, 60_000] };

type Handler<T extends EventType> = (data: EventData<T>, tx: Tx, occurredAt: Date) => Promise<void>;

export async function startHistorySubscribers(deps: {
  consumers: Consumers;
  history: HistoryService;
  membership: MembershipService;
}): Promise<void> {
  const { consumers, history, membership } = deps;

  async function on<T extends EventType>(stream: StreamKey, type: T, what: string, handle: Handler<T>) {
    await consumers.on(
      { stream, durable: `history-${what}`, filter: filterOf(type), ...RETRY },
      async (event: AnyEventEnvelope, tx: Tx) => {
        if (event.type !== type) return;
        await handle(event.data as EventData<T>, tx, new Date(event.occurredAt));
      },
    );
  }

  await on('conversation', 'conversation.created', 'conversation-created', (d, tx, at) =>
    membership.conversationCreated(tx, d, at),
  );
  await on('conversation', 'conversation.deleted', 'conversation-deleted', (d, tx) =>
    membership.conversationDeleted(tx, d),
  );
  await on('conversation', 'member.added', 'member-added', (d, tx, at) => membership.memberAdded(tx, d, at));
  await on('conversation', 'member.updated', 'member-updated', (d, tx, at) => membership.memberUpdated(tx, d, at));
  await on('conversation', 'member.removed', 'member-removed', (d, tx, at) => membership.memberRemoved(tx, d, at));
  await on('auth', 'user.deleted', 'user-deleted', (d, tx) => history.userDeleted(tx, d));
  await on('message', 'message.created', 'message-created', (d, tx) => history.messageCreated(tx, d));
  await on('message', 'message.updated', 'message-updated', (d, tx, at) => history.messageUpdated(tx, d, at));
  await on('message', 'message.deleted', 'message-deleted', (d, tx, at) => history.messageDeleted(tx, d, at));
}
