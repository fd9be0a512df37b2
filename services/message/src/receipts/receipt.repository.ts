/**
 * Read and delivery markers: the only code that touches `markers`, plus the
 * unread queries over `messages` that depend on them.
 */
import type { Message } from '@parley/contracts';
import type { DatabaseHandle, DbOrTx } from '@parley/service-kit';
import { sql } from 'drizzle-orm';
import { toMessage } from '../messages/message.repository';

export type MarkerKind = 'read' | 'delivered';

export interface MarkerState {
  readSeq: number;
  deliveredSeq: number;
}

const iso = (v: string | Date) => new Date(v).toISOString();

export function createReceiptRepository(handle: DatabaseHandle) {
  const rows = <T>(q: ReturnType<typeof sql>, on?: DbOrTx) => handle.rows<T>(q, on);

  return {
    /**
     * Moves a marker forward to `seq` (capped at the conversation's last seq),
     * never backwards. A read also counts as delivered. Returns the marker
     * after the change and whether it moved.
     */
    async advance(
      tx: DbOrTx,
      conversationId: string,
      userId: string,
      kind: MarkerKind,
      seq: number,
    ): Promise<{ marker: MarkerState; moved: boolean; at: string }> {
      const target = sql`LEAST(${seq}::int, COALESCE((SELECT seq FROM message.counters WHERE conversation_id = ${conversationId}), 0))`;
      const [row] = await rows<{ read_seq: number; delivered_seq: number; moved: boolean; at: string | Date }>(
        kind === 'read'
          ? sql`WITH t AS (SELECT ${target} AS s, clock_timestamp() AS now),
                prev AS (SELECT read_seq FROM message.markers WHERE conversation_id = ${conversationId} AND user_id = ${userId}),
                up AS (
                  INSERT INTO message.markers AS k (conversation_id, user_id, read_seq, read_at, delivered_seq, delivered_at)
                  SELECT ${conversationId}, ${userId}, t.s, t.now, t.s, t.now FROM t
                  ON CONFLICT (conversation_id, user_id) DO UPDATE SET
                    read_seq = GREATEST(k.read_seq, excluded.read_seq),
                    read_at = CASE WHEN excluded.read_seq > k.read_seq THEN excluded.read_at ELSE k.read_at END,
                    delivered_seq = GREATEST(k.delivered_seq, excluded.delivered_seq),
                    delivered_at = CASE WHEN excluded.delivered_seq > k.delivered_seq THEN excluded.delivered_at ELSE k.delivered_at END
                  RETURNING read_seq, delivered_seq
                )
                SELECT up.read_seq, up.delivered_seq, t.now AS at,
                       (up.read_seq > COALESCE((SELECT read_seq FROM prev), 0)) AS moved
                FROM up, t`
          : sql`WITH t AS (SELECT ${target} AS s, clock_timestamp() AS now),
                prev AS (SELECT delivered_seq FROM message.markers WHERE conversation_id = ${conversationId} AND user_id = ${userId}),
                up AS (
                  INSERT INTO message.markers AS k (conversation_id, user_id, read_seq, delivered_seq, delivered_at)
                  SELECT ${conversationId}, ${userId}, 0, t.s, t.now FROM t
                  ON CONFLICT (conversation_id, user_id) DO UPDATE SET
                    delivered_seq = GREATEST(k.delivered_seq, excluded.delivered_seq),
                    delivered_at = CASE WHEN excluded.delivered_seq > k.delivered_seq THEN excluded.delivered_at ELSE k.delivered_at END
                  RETURNING read_seq, delivered_seq
                )
                SELECT up.read_seq, up.delivered_seq, t.now AS at,
                       (up.delivered_seq > COALESCE((SELECT delivered_seq FROM prev), 0)) AS moved
                FROM up, t`,
        tx,
      );
      return {
        marker: { readSeq: Number(row!.read_seq), deliveredSeq: Number(row!.delivered_seq) },
        moved: row!.moved === true || (row!.moved as unknown) === 't',
        at: iso(row!.at),
      };
    },

    async find(db: DbOrTx, conversationId: string, userId: string): Promise<MarkerState> {
      const [row] = await rows<{ read_seq: number; delivered_seq: number }>(
        sql`SELECT read_seq, delivered_seq FROM message.markers WHERE conversation_id = ${conversationId} AND user_id = ${userId}`,
        db,
      );
      return row
        ? { readSeq: Number(row.read_seq), deliveredSeq: Number(row.delivered_seq) }
        : { readSeq: 0, deliveredSeq: 0 };
    },

    /** Messages after `afterSeq` that are not the user's own, not deleted and not system messages. */
    async unreadCount(db: DbOrTx, conversationId: string, userId: string, afterSeq: number): Promise<number> {
      const [row] = await rows<{ n: number | string }>(
        sql`SELECT count(*) AS n FROM message.messages
            WHERE conversation_id = ${conversationId} AND seq > ${afterSeq} AND type <> 'system'
              AND deleted_at IS NULL AND sender_id IS DISTINCT FROM ${userId}`,
        db,
      );
      return Number(row?.n ?? 0);
    },

    /**
     * The caller's unread messages in the conversations the model has them in
     * (oldest first by id; `afterId` is the page cursor).
     */
    async unreadMessages(
      db: DbOrTx,
      userId: string,
      conversationId: string | null,
      afterId: string | null,
      limit: number,
    ): Promise<Message[]> {
      const list = await rows<Parameters<typeof toMessage>[0]>(
        sql`SELECT m.id, m.conversation_id, m.seq, m.rev, m.sender_id, m.client_message_id, m.type, m.content,
                   m.attachments, m.mentions, m.parent_id, m.thread_root_id, m.reply_count, m.system,
                   m.created_at, m.edited_at, m.deleted_at
            FROM message.members mb
            JOIN message.messages m ON m.conversation_id = mb.conversation_id
            LEFT JOIN message.markers k ON k.conversation_id = mb.conversation_id AND k.user_id = mb.user_id
            WHERE mb.user_id = ${userId} AND mb.state IN ('active', 'muted')
              ${conversationId ? sql`AND mb.conversation_id = ${conversationId}` : sql``}
              AND m.seq > COALESCE(k.read_seq, 0) AND m.type <> 'system' AND m.deleted_at IS NULL
              AND m.sender_id IS DISTINCT FROM ${userId}
              ${afterId ? sql`AND m.id > ${afterId}` : sql``}
            ORDER BY m.id LIMIT ${limit}`,
        db,
      );
      return list.map(toMessage);
    },

    /** Who has received and read a message (markers at or past its seq), the sender left out. */
    async receipts(
      db: DbOrTx,
      conversationId: string,
      seq: number,
      senderId: string | null,
    ): Promise<{ deliveredTo: { userId: string; at: string }[]; readBy: { userId: string; at: string }[] }> {
      const list = await rows<{
        user_id: string;
        read_seq: number;
        read_at: string | Date | null;
        delivered_seq: number;
        delivered_at: string | Date | null;
      }>(
        sql`SELECT user_id, read_seq, read_at, delivered_seq, delivered_at FROM message.markers
            WHERE conversation_id = ${conversationId} AND (delivered_seq >= ${seq} OR read_seq >= ${seq})
              AND user_id IS DISTINCT FROM ${senderId}
            ORDER BY user_id`,
        db,
      );
      const deliveredTo: { userId: string; at: string }[] = [];
      const readBy: { userId: string; at: string }[] = [];
      for (const r of list) {
        const deliveredAt = Number(r.delivered_seq) >= seq ? r.delivered_at : r.read_at;
        if (deliveredAt) deliveredTo.push({ userId: r.user_id, at: iso(deliveredAt) });
        if (Number(r.read_seq) >= seq && r.read_at) readBy.push({ userId: r.user_id, at: iso(r.read_at) });
      }
      return { deliveredTo, readBy };
    },

    async dropMarkersOf(db: DbOrTx, userId: string): Promise<void> {
      await rows(sql`DELETE FROM message.markers WHERE user_id = ${userId}`, db);
    },
  };
}

export type ReceiptRepository = ReturnType<typeof createReceiptRepository>;
