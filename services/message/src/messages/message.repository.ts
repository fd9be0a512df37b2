/**
 * Messages and their per-conversation counters: the only code that reads or
 * writes `messages` and `counters`.
 *
 * seq/rev: every writer of a conversation first updates its `counters` row
 * (`... seq = seq + 1, rev = rev + 1 RETURNING`), inside the transaction that
 * stores the change. The row lock serializes the writers of that one
 * conversation until they commit or roll back; a rollback returns the numbers
 * with the row, so `seq` has no gaps and neither number repeats.
 *
 * The send's insert is a prepared statement (`../db/prepared.ts`: built once,
 * parsed once per connection, one round trip); the other statements go
 * through `handle.rows`, which drizzle sends unprepared (two round trips for
 * a statement with parameters, parsed every time).
 */
import type { Attachment, Message, SystemInfo } from '@parley/contracts';
import type { DatabaseHandle, DbOrTx } from '@parley/service-kit';
import { sql } from 'drizzle-orm';
import { preparedStatement } from '../db/prepared';
import { sendAllowed } from '../membership/membership.repository';

/** A stored message as read from SQL (snake_case, driver-dependent value types). */
interface MessageRow {
  id: string;
  conversation_id: string;
  seq: number;
  rev: number;
  sender_id: string | null;
  client_message_id: string | null;
  type: Message['type'];
  content: string;
  attachments: unknown;
  mentions: unknown;
  parent_id: string | null;
  thread_root_id: string | null;
  reply_count: number;
  system: unknown;
  created_at: string | Date;
  edited_at: string | Date | null;
  deleted_at: string | Date | null;
}

const COLUMNS = sql.raw(
  'm.id, m.conversation_id, m.seq, m.rev, m.sender_id, m.client_message_id, m.type, m.content, m.attachments, m.mentions, m.parent_id, m.thread_root_id, m.reply_count, m.system, m.created_at, m.edited_at, m.deleted_at',
);

const iso = (v: string | Date) => new Date(v).toISOString();
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export function toMessage(r: MessageRow): Message {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    seq: Number(r.seq),
    rev: Number(r.rev),
    senderId: r.sender_id,
    clientMessageId: r.client_message_id,
    type: r.type,
    content: r.content,
    attachments: json<Attachment[]>(r.attachments) ?? [],
    mentions: json<string[]>(r.mentions) ?? [],
    parentId: r.parent_id,
    threadRootId: r.thread_root_id,
    replyCount: Number(r.reply_count),
    system: json<SystemInfo | null>(r.system) ?? null,
    createdAt: iso(r.created_at),
    editedAt: r.edited_at ? iso(r.edited_at) : null,
    deletedAt: r.deleted_at ? iso(r.deleted_at) : null,
  };
}

export interface NewMessage {
  id: string;
  conversationId: string;
  senderId: string | null;
  clientMessageId: string | null;
  type: Message['type'];
  content: string;
  attachments: Attachment[];
  mentions: string[];
  parentId: string | null;
  threadRootId: string | null;
  system: SystemInfo | null;
  sourceEventId: string | null;
}

export interface ParentRef {
  id: string;
  conversationId: string;
  threadRootId: string | null;
}

export interface ThreadReplyRow {
  message: Message;
  depth: number;
  path: number[];
}

/** Postgres unique violation on the idempotency key (sender, clientMessageId). */
export function isDuplicateClientMessageId(err: unknown): boolean {
  for (let e = err as { code?: unknown; constraint_name?: unknown; cause?: unknown } | undefined; e; ) {
    if (e.code === '23505') {
      const c = e.constraint_name ?? (e as { constraint?: unknown }).constraint;
      return c === undefined || c === 'messages_sender_client_id_uq';
    }
    e = e.cause as typeof e;
  }
  return false;
}

const p = (name: string) => sql.placeholder(name);

/**
 * The send statement: counter and message in one, prepared. Gated: the
 * counter row is only taken when the membership model lets the sender send.
 */
function insertStatement(gated: boolean) {
  const counter = gated
    ? sql`INSERT INTO message.counters AS k (conversation_id, seq, rev)
          SELECT ok.id, 1, 1 FROM (${sendAllowed(p('conversationId'), p('senderId'))}) AS ok(id)`
    : sql`INSERT INTO message.counters AS k (conversation_id, seq, rev) VALUES (${p('conversationId')}, 1, 1)`;
  return preparedStatement<InsertParams>(
    gated ? 'message_insert_if_allowed' : 'message_insert',
    sql`WITH c AS (
          ${counter}
          ON CONFLICT (conversation_id) DO UPDATE SET seq = k.seq + 1, rev = k.rev + 1
          RETURNING seq, rev
        )
        INSERT INTO message.messages AS m
          (id, conversation_id, seq, rev, sender_id, client_message_id, type, content, attachments, mentions,
           parent_id, thread_root_id, system, source_event_id, created_at)
        SELECT ${p('id')}, ${p('conversationId')}, c.seq, c.rev, ${p('senderId')}, ${p('clientMessageId')}, ${p('type')},
               ${p('content')}, ${p('attachments')}::jsonb, ${p('mentions')}::jsonb,
               ${p('parentId')}, ${p('threadRootId')}, ${p('system')}::jsonb,
               ${p('sourceEventId')}, clock_timestamp()
        FROM c
        RETURNING ${COLUMNS}`,
  );
}

type InsertParams = Omit<NewMessage, 'attachments' | 'mentions' | 'system'> & {
  attachments: string;
  mentions: string;
  system: string | null;
};

const insertParams = (m: NewMessage): InsertParams => ({
  ...m,
  attachments: JSON.stringify(m.attachments),
  mentions: JSON.stringify(m.mentions),
  system: m.system ? JSON.stringify(m.system) : null,
});

const insertMessage = insertStatement(false);
const insertMessageIfAllowed = insertStatement(true);

export function createMessageRepository(handle: DatabaseHandle) {
  const rows = <T>(q: ReturnType<typeof sql>, on?: DbOrTx) => handle.rows<T>(q, on);

  return {
    /**
     * Assigns the conversation's next seq and rev and stores the message in
     * one statement (the counter row is created on the first message).
     */
    async insert(tx: DbOrTx, m: NewMessage): Promise<Message> {
      const [row] = await insertMessage<MessageRow>(tx, insertParams(m));
      return toMessage(row!);
    },

    /**
     * `insert`, in the same single statement, only when the local membership
     * model says the sender may send: the conversation is open and the sender
     * an active member (the allowing case of the `send` policy; every other
     * case is for `MembershipService.authorize`, which may ask the owner).
     * Null, with no counter taken, when it does not.
     */
    async insertIfSenderMaySend(tx: DbOrTx, m: NewMessage & { senderId: string }): Promise<Message | null> {
      const [row] = await insertMessageIfAllowed<MessageRow>(tx, insertParams(m));
      return row ? toMessage(row) : null;
    },

    /** Adds one to the reply count of the parent and every ancestor above it. */
    async bumpAncestors(tx: DbOrTx, parentId: string): Promise<void> {
      await rows(
        sql`WITH RECURSIVE anc(id, parent_id) AS (
              SELECT id, parent_id FROM message.messages WHERE id = ${parentId}
              UNION ALL
              SELECT p.id, p.parent_id FROM message.messages p JOIN anc ON p.id = anc.parent_id
            )
            UPDATE message.messages SET reply_count = reply_count + 1 WHERE id IN (SELECT id FROM anc)`,
        tx,
      );
    },

    /** Takes the conversation's counter lock and its next rev (for edits and deletes). */
    async nextRev(tx: DbOrTx, conversationId: string): Promise<number> {
      const [row] = await rows<{ rev: number }>(
        sql`INSERT INTO message.counters AS k (conversation_id, seq, rev) VALUES (${conversationId}, 0, 1)
            ON CONFLICT (conversation_id) DO UPDATE SET rev = k.rev + 1
            RETURNING rev`,
        tx,
      );
      return Number(row!.rev);
    },

    /** Edits a message that is not deleted; null when it is (or is gone). Returns the previous content too. */
    async edit(
      tx: DbOrTx,
      id: string,
      rev: number,
      content: string,
      mentions: string[],
    ): Promise<{ message: Message; previousContent: string } | null> {
      const [row] = await rows<MessageRow & { previous_content: string }>(
        sql`UPDATE message.messages AS m
            SET content = ${content}, mentions = ${JSON.stringify(mentions)}::jsonb, rev = ${rev},
                edited_at = clock_timestamp()
            FROM (SELECT id, content FROM message.messages WHERE id = ${id}) AS old
            WHERE m.id = old.id AND m.deleted_at IS NULL
            RETURNING ${COLUMNS}, old.content AS previous_content`,
        tx,
      );
      return row ? { message: toMessage(row), previousContent: row.previous_content } : null;
    },

    /** Tombstones a message that is not deleted yet; null when it already is. */
    async tombstone(tx: DbOrTx, id: string, rev: number): Promise<Message | null> {
      const [row] = await rows<MessageRow>(
        sql`UPDATE message.messages AS m
            SET content = '', attachments = '[]'::jsonb, mentions = '[]'::jsonb, rev = ${rev},
                deleted_at = clock_timestamp()
            WHERE m.id = ${id} AND m.deleted_at IS NULL
            RETURNING ${COLUMNS}`,
        tx,
      );
      return row ? toMessage(row) : null;
    },

    async findById(db: DbOrTx, id: string): Promise<Message | null> {
      const [row] = await rows<MessageRow>(sql`SELECT ${COLUMNS} FROM message.messages m WHERE m.id = ${id}`, db);
      return row ? toMessage(row) : null;
    },

    async findByClientMessageId(db: DbOrTx, senderId: string, clientMessageId: string): Promise<Message | null> {
      const [row] = await rows<MessageRow>(
        sql`SELECT ${COLUMNS} FROM message.messages m
            WHERE m.sender_id = ${senderId} AND m.client_message_id = ${clientMessageId}`,
        db,
      );
      return row ? toMessage(row) : null;
    },

    async findParent(db: DbOrTx, id: string): Promise<ParentRef | null> {
      const [row] = await rows<{ id: string; conversation_id: string; thread_root_id: string | null }>(
        sql`SELECT id, conversation_id, thread_root_id FROM message.messages WHERE id = ${id}`,
        db,
      );
      return row ? { id: row.id, conversationId: row.conversation_id, threadRootId: row.thread_root_id } : null;
    },

    async system(db: DbOrTx, sourceEventId: string): Promise<Message | null> {
      const [row] = await rows<MessageRow>(
        sql`SELECT ${COLUMNS} FROM message.messages m WHERE m.source_event_id = ${sourceEventId}`,
        db,
      );
      return row ? toMessage(row) : null;
    },

    /** Newest first, below `before` (exclusive) when given. */
    async listBefore(db: DbOrTx, conversationId: string, before: number | null, limit: number): Promise<Message[]> {
      const list = await rows<MessageRow>(
        sql`SELECT ${COLUMNS} FROM message.messages m
            WHERE m.conversation_id = ${conversationId} ${before === null ? sql`` : sql`AND m.seq < ${before}`}
            ORDER BY m.seq DESC LIMIT ${limit}`,
        db,
      );
      return list.map(toMessage);
    },

    /** Oldest first, above `after` (exclusive). */
    async listAfter(db: DbOrTx, conversationId: string, after: number, limit: number): Promise<Message[]> {
      const list = await rows<MessageRow>(
        sql`SELECT ${COLUMNS} FROM message.messages m
            WHERE m.conversation_id = ${conversationId} AND m.seq > ${after}
            ORDER BY m.seq ASC LIMIT ${limit}`,
        db,
      );
      return list.map(toMessage);
    },

    /** Messages whose last change is after `sinceRev`, in rev order. */
    async changesSince(db: DbOrTx, conversationId: string, sinceRev: number, limit: number): Promise<Message[]> {
      const list = await rows<MessageRow>(
        sql`SELECT ${COLUMNS} FROM message.messages m
            WHERE m.conversation_id = ${conversationId} AND m.rev > ${sinceRev}
            ORDER BY m.rev ASC LIMIT ${limit}`,
        db,
      );
      return list.map(toMessage);
    },

    /**
     * Every reply below a message, replies to replies included, in one
     * recursive query: depth-first (each level by seq), with depth (1 = direct
     * reply) and the seq path used as the page cursor.
     */
    async thread(db: DbOrTx, rootId: string, afterPath: number[] | null, limit: number): Promise<ThreadReplyRow[]> {
      const list = await rows<MessageRow & { depth: number; path: number[] | string }>(
        sql`WITH RECURSIVE t AS (
              SELECT id, 0 AS depth, ARRAY[]::int[] AS path FROM message.messages WHERE id = ${rootId}
              UNION ALL
              SELECT c.id, t.depth + 1, t.path || c.seq FROM message.messages c JOIN t ON c.parent_id = t.id
            )
            SELECT ${COLUMNS}, t.depth, t.path FROM t JOIN message.messages m ON m.id = t.id
            WHERE t.depth > 0 ${afterPath ? sql`AND t.path > ${`{${afterPath.join(',')}}`}::int[]` : sql``}
            ORDER BY t.path LIMIT ${limit}`,
        db,
      );
      return list.map((r) => ({
        message: toMessage(r),
        depth: Number(r.depth),
        path: Array.isArray(r.path) ? r.path.map(Number) : parseIntArray(r.path),
      }));
    },

    /** The conversation's last seq and rev (0, 0 before its first message). */
    async counters(db: DbOrTx, conversationId: string): Promise<{ seq: number; rev: number }> {
      const [row] = await rows<{ seq: number; rev: number }>(
        sql`SELECT seq, rev FROM message.counters WHERE conversation_id = ${conversationId}`,
        db,
      );
      return row ? { seq: Number(row.seq), rev: Number(row.rev) } : { seq: 0, rev: 0 };
    },

    /** Ids of a user's messages not yet deleted, per conversation (for account deletion). */
    async liveMessagesOf(db: DbOrTx, senderId: string): Promise<{ id: string; conversationId: string }[]> {
      const list = await rows<{ id: string; conversation_id: string }>(
        sql`SELECT id, conversation_id FROM message.messages
            WHERE sender_id = ${senderId} AND deleted_at IS NULL ORDER BY conversation_id, seq`,
        db,
      );
      return list.map((r) => ({ id: r.id, conversationId: r.conversation_id }));
    },
  };
}

function parseIntArray(v: string): number[] {
  const inner = v.replace(/^\{|\}$/g, '');
  return inner ? inner.split(',').map(Number) : [];
}

export type MessageRepository = ReturnType<typeof createMessageRepository>;
