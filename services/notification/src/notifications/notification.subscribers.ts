/**
 * Durable consumers of the notification service (one subject filter each:
 * nats-server 2.9 has no multi-filter consumers). Each runs in the kit's
 * idempotent transaction: the event is recorded in processed_events together
 * with its effect, so a redelivery changes nothing; the unique key on
 * notifications is the second safety net.
 */
import { type AnyEventEnvelope, type EventData, type EventType, filterOf, type StreamKey } from '@parley/contracts';
import type { Consumers, Tx } from '@parley/service-kit';
import type { ReadModelService } from '../read-model/read-model.service';
import type { NotificationService } from './notification.service';

/**
 * Retries for about 25 minutes before an event is dead-lettered: handling
 * may need another service (membership over RPC) or the database, and an
 * event given up on is a lost notification, revision or erasure.
 */
export const RETRY = { maxDeliver: 30, backoffMs: [200, 1000, 5000, 15_000, 30_000, 60_000] };

type Handler<T extends EventType> = (data: EventData<T>, tx: Tx, occurredAt: Date) => Promise<void>;

export interface SubscriberDeps {
  consumers: Consumers;
  notifications: NotificationService;
  readModel: ReadModelService;
}

export async function startNotificationSubscribers(deps: SubscriberDeps): Promise<void> {
  const { consumers, notifications, readModel } = deps;

  async function on<T extends EventType>(stream: StreamKey, type: T, what: string, handle: Handler<T>) {
    await consumers.on(
      { stream, durable: `notification-${what}`, filter: filterOf(type), ...RETRY },
      async (event: AnyEventEnvelope, tx: Tx) => {
        // The filter admits only `type`; the envelope was validated by the kit.
        if (event.type !== type) return;
        await handle(event.data as EventData<T>, tx, new Date(event.occurredAt));
      },
    );
  }

  // Membership, preferences and names first, so a fresh start learns them
  // before the messages that need them (each consumer still falls back to
  // asking the owner when the model cannot answer).
  await on('conversation', 'conversation.created', 'conversation-created', (d, tx, at) =>
    readModel.conversationCreated(tx, d, at),
  );
  await on('conversation', 'conversation.updated', 'conversation-updated', (d, tx, at) =>
    readModel.conversationUpdated(tx, d, at),
  );
  await on('conversation', 'conversation.deleted', 'conversation-deleted', (d, tx) =>
    readModel.conversationDeleted(tx, d),
  );
  await on('conversation', 'member.added', 'member-added', (d, tx, at) => readModel.memberAdded(tx, d, at));
  await on('conversation', 'member.updated', 'member-updated', (d, tx, at) => readModel.memberUpdated(tx, d, at));
  await on('conversation', 'member.removed', 'member-removed', (d, tx, at) => readModel.memberRemoved(tx, d, at));
  await on('auth', 'user.created', 'user-created', (d, tx, at) => readModel.userChanged(tx, d.user, at));
  await on('auth', 'user.updated', 'user-updated', (d, tx, at) => readModel.userChanged(tx, d.user, at));
  await on('auth', 'user.deleted', 'user-deleted', async (d, tx, at) => {
    await notifications.eraseUser(tx, d.userId, at);
  });

  await on('message', 'message.created', 'message-created', async (d, tx) => {
    await notifications.notifyNewMessage(tx, d.message);
  });
  await on('message', 'message.updated', 'message-updated', async (d, tx, at) => {
    await notifications.notifyEdit(tx, d, at);
  });
  await on('message', 'message.deleted', 'message-deleted', (d, tx) =>
    notifications.forgetMessageContent(tx, d.message.id),
  );
  await on('message', 'receipt.read', 'receipt-read', async (d, tx) => {
    await notifications.applyReadReceipt(tx, d);
  });
}
