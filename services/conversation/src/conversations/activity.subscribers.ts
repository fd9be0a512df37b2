/**
 * Keeps the message-derived part of conversations (latest message preview,
 * lastSeq, unread counts, read markers) from the message service's events.
 * One durable consumer per subject filter (nats-server 2.9 has no
 * multi-filter consumers); each applies its event idempotently and in any
 * order relative to the others (the highest `rev` of a message wins).
 */
import { type EventData, filterOf } from '@parley/contracts';
import type { Consumers, DbOrTx } from '@parley/service-kit';
import { PREVIEW_MAX_CHARS } from './conversation.model';
import type { ConversationRepository } from './conversation.repository';

type MessageFact = EventData<'message.created'>['message'];

export async function applyMessageFact(repo: ConversationRepository, tx: DbOrTx, m: MessageFact): Promise<void> {
  await repo.applyMessage(tx, {
    conversationId: m.conversationId,
    id: m.id,
    seq: m.seq,
    rev: m.rev,
    senderId: m.senderId,
    type: m.type,
    content: m.deletedAt ? '' : m.content.slice(0, PREVIEW_MAX_CHARS),
    createdAt: m.createdAt,
    deleted: m.deletedAt !== null,
    isSystem: m.type === 'system',
  });
}

export async function registerActivitySubscribers(consumers: Consumers, repo: ConversationRepository) {
  for (const type of ['message.created', 'message.updated', 'message.deleted'] as const) {
    await consumers.on(
      { stream: 'message', durable: `conversation-${type.replace('.', '-')}`, filter: filterOf(type) },
      async (event, tx) => {
        await applyMessageFact(repo, tx, (event.data as EventData<typeof type>).message);
      },
    );
  }
  await consumers.on(
    { stream: 'message', durable: 'conversation-receipt-read', filter: filterOf('receipt.read') },
    async (event, tx) => {
      const r = event.data as EventData<'receipt.read'>;
      await repo.applyRead(tx, r.conversationId, r.userId, r.seq);
    },
  );
}
