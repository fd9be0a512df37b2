/**
 * Read and delivery markers (never backwards), exact unread counts, the
 * caller's unread messages and a message's receipts. A marker that moves
 * publishes `receipt.read` / `receipt.delivered` through the outbox.
 */
import type { Message, Receipts } from '@parley/contracts';
import type { DatabaseHandle, Outbox } from '@parley/service-kit';
import { decodeCursor, encodeCursor, isIdCursor } from '../messages/cursor';
import type { MessageRepository } from '../messages/message.repository';
import { DEFAULT_PAGE, type MessageService, type PageOf } from '../messages/message.service';
import type { MembershipService } from '../membership/membership.service';
import type { MarkerKind, ReceiptRepository } from './receipt.repository';

export interface ReceiptServiceDeps {
  db: DatabaseHandle;
  repo: ReceiptRepository;
  messages: MessageRepository;
  messageService: MessageService;
  membership: MembershipService;
  outbox: Outbox;
}

export function createReceiptService(deps: ReceiptServiceDeps) {
  const { db, repo, membership, outbox } = deps;

  async function advance(userId: string, conversationId: string, kind: MarkerKind, seq: number) {
    await membership.authorize(conversationId, userId, 'mark');
    const result = await outbox.transaction(async (tx, emit) => {
      const r = await repo.advance(tx, conversationId, userId, kind, seq);
      if (r.moved) {
        const at = r.at;
        if (kind === 'read') await emit('receipt.read', { conversationId, userId, seq: r.marker.readSeq, at });
        else await emit('receipt.delivered', { conversationId, userId, seq: r.marker.deliveredSeq, at });
      }
      return r;
    });
    return result.marker;
  }

  return {
    async markRead(userId: string, conversationId: string, seq: number) {
      const marker = await advance(userId, conversationId, 'read', seq);
      const [unreadCount, counters] = await Promise.all([
        repo.unreadCount(db.db, conversationId, userId, marker.readSeq),
        deps.messages.counters(db.db, conversationId),
      ]);
      await deps.messageService.markWrite(userId, conversationId, { rev: counters.rev, readSeq: marker.readSeq });
      return { lastReadSeq: marker.readSeq, unreadCount };
    },

    async markDelivered(userId: string, conversationId: string, seq: number) {
      const marker = await advance(userId, conversationId, 'delivered', seq);
      return { lastDeliveredSeq: marker.deliveredSeq };
    },

    async unread(
      userId: string,
      q: { conversationId?: string; limit?: number; cursor?: string },
    ): Promise<PageOf<Message>> {
      if (q.conversationId) await membership.authorize(q.conversationId, userId, 'mark');
      const limit = q.limit ?? DEFAULT_PAGE;
      const cursor = decodeCursor(q.cursor, isIdCursor);
      const rows = await repo.unreadMessages(db.db, userId, q.conversationId ?? null, cursor?.i ?? null, limit + 1);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor({ i: last.id }) : null };
    },

    async receipts(userId: string, messageId: string): Promise<Receipts> {
      const { message } = await deps.messageService.readable(userId, messageId);
      return repo.receipts(db.db, message.conversationId, message.seq, message.senderId);
    },
  };
}

export type ReceiptService = ReturnType<typeof createReceiptService>;
