/**
 * Tables of the message service (Postgres schema `message`).
 *
 * Owned facts: `messages`, the per-conversation `counters` that assign
 * `seq`/`rev`, and the read/delivery `markers`. Local read models of other
 * services' facts: `conversations` and `members` (conversation stream, RPC on
 * a miss) and `users` (auth stream, RPC on a miss; names for mentions and
 * system messages). Plus the kit's `outbox` and `processed_events`.
 */
import type { Attachment, SystemInfo } from '@parley/contracts';
import { outboxTable, processedEventsTable } from '@parley/service-kit';
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const messageSchema = pgSchema('message');

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const messages = messageSchema.table(
  'messages',
  {
    id: uuid('id').primaryKey(),
    conversationId: uuid('conversation_id').notNull(),
    /** Dense position in the conversation, 1, 2, 3, ... (from `counters.seq`). */
    seq: integer('seq').notNull(),
    /** The conversation's change counter at this message's last change (from `counters.rev`). */
    rev: integer('rev').notNull(),
    /** Null on system messages. */
    senderId: uuid('sender_id'),
    clientMessageId: uuid('client_message_id'),
    type: text('type').$type<'text' | 'image' | 'file' | 'system'>().notNull(),
    content: text('content').notNull(),
    attachments: jsonb('attachments').$type<Attachment[]>().notNull().default([]),
    mentions: jsonb('mentions').$type<string[]>().notNull().default([]),
    parentId: uuid('parent_id'),
    threadRootId: uuid('thread_root_id'),
    /** Every reply below this message, replies to replies included. */
    replyCount: integer('reply_count').notNull().default(0),
    system: jsonb('system').$type<SystemInfo>(),
    /** The event a system message was written for: at most one message per event. */
    sourceEventId: uuid('source_event_id'),
    createdAt: ts('created_at').notNull(),
    editedAt: ts('edited_at'),
    deletedAt: ts('deleted_at'),
  },
  (t) => [
    uniqueIndex('messages_conversation_seq_uq').on(t.conversationId, t.seq),
    uniqueIndex('messages_conversation_rev_uq').on(t.conversationId, t.rev),
    uniqueIndex('messages_sender_client_id_uq')
      .on(t.senderId, t.clientMessageId)
      .where(sql`client_message_id IS NOT NULL`),
    uniqueIndex('messages_source_event_uq').on(t.sourceEventId).where(sql`source_event_id IS NOT NULL`),
    index('messages_parent_idx').on(t.parentId).where(sql`parent_id IS NOT NULL`),
    index('messages_sender_idx').on(t.senderId, t.conversationId),
    check('messages_type_ck', sql`${t.type} in ('text', 'image', 'file', 'system')`),
  ],
);

/**
 * One row per conversation: the last assigned `seq` and `rev`. Writers of a
 * conversation take its row lock with `UPDATE ... RETURNING` inside the
 * transaction that stores the change, so numbers are assigned in commit order
 * and a rollback returns them (see README, "seq and rev").
 */
export const counters = messageSchema.table('counters', {
  conversationId: uuid('conversation_id').primaryKey(),
  seq: integer('seq').notNull().default(0),
  rev: integer('rev').notNull().default(0),
});

/** Read and delivery markers per member (never move backwards). */
export const markers = messageSchema.table(
  'markers',
  {
    conversationId: uuid('conversation_id').notNull(),
    userId: uuid('user_id').notNull(),
    readSeq: integer('read_seq').notNull().default(0),
    readAt: ts('read_at'),
    deliveredSeq: integer('delivered_seq').notNull().default(0),
    deliveredAt: ts('delivered_at'),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index('markers_user_idx').on(t.userId)],
);

/** Read model of conversations (conversation.* / member.* events, RPC on a miss). */
export const conversations = messageSchema.table(
  'conversations',
  {
    id: uuid('id').primaryKey(),
    type: text('type').$type<'direct' | 'group'>().notNull(),
    visibility: text('visibility').$type<'private' | 'public'>().notNull(),
    status: text('status').$type<'open' | 'closed' | 'archived'>().notNull(),
    title: text('title'),
    /** The owner's `updatedAt` of the fact stored: an older fact never overwrites a newer one. */
    version: ts('version').notNull(),
  },
  (t) => [check('conversations_status_ck', sql`${t.status} in ('open', 'closed', 'archived')`)],
);

/**
 * Read model of members. A departed member keeps a row with state `removed`
 * so that its `synced_at` still orders later facts (events and RPC answers).
 */
export const members = messageSchema.table(
  'members',
  {
    conversationId: uuid('conversation_id').notNull(),
    userId: uuid('user_id').notNull(),
    role: text('role').$type<'owner' | 'admin' | 'member'>().notNull(),
    state: text('state').$type<'active' | 'muted' | 'banned' | 'removed'>().notNull(),
    /** When the fact stored was true (event `occurredAt`, or the start of the RPC that returned it). */
    syncedAt: ts('synced_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    index('members_user_idx').on(t.userId),
    check('members_state_ck', sql`${t.state} in ('active', 'muted', 'banned', 'removed')`),
  ],
);

/** Read model of user names (auth's user.* events, RPC.authUsers on a miss). */
export const users = messageSchema.table('users', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  /** Tombstone from user.deleted: a late user.updated never resurrects the name. */
  deletedAt: ts('deleted_at'),
});

export const outbox = outboxTable(messageSchema);
export const processedEvents = processedEventsTable(messageSchema);
