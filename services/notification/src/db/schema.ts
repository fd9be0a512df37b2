/**
 * Tables of the notification service (Postgres schema `notification`).
 *
 * Owned facts: `notifications`. Local read models of other services' facts,
 * fed by their events: `conversations` + `members` (who gets notified, with
 * which preference), `users` (sender names for titles; tombstoned on
 * deletion so a late update never resurrects a name) and `messages` (one
 * small row per message: its seq, its sender for reply detection, and the
 * edit-notification throttle), `read_marks` (each member's read marker, for
 * read-your-writes). Only the repositories import this file.
 */
import { outboxTable, processedEventsTable } from '@parley/service-kit';
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const notificationSchema = pgSchema('notification');

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const notifications = notificationSchema.table(
  'notifications',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id').notNull(),
    kind: text('kind').$type<'message' | 'mention' | 'reply' | 'edit' | 'system'>().notNull(),
    /**
     * What makes a notification unique per recipient and message: `message`
     * for the one of a new message (kinds message/mention/reply/system) and
     * `edit:<rev>` for an edit. The unique key below is the safety net that
     * keeps exactly one when an event is applied twice.
     */
    dedupeKey: text('dedupe_key').notNull(),
    conversationId: uuid('conversation_id').notNull(),
    messageId: uuid('message_id').notNull(),
    /** The message's seq: a read receipt up to seq N marks these read. */
    seq: integer('seq').notNull(),
    title: text('title').notNull(),
    body: text('body').notNull(),
    readAt: ts('read_at'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('notifications_user_message_key_uq').on(t.userId, t.messageId, t.dedupeKey),
    index('notifications_user_id_idx').on(t.userId, t.id.desc()),
    index('notifications_user_unread_idx').on(t.userId, t.id.desc()).where(sql`${t.readAt} is null`),
    index('notifications_user_conversation_unread_idx')
      .on(t.userId, t.conversationId, t.seq)
      .where(sql`${t.readAt} is null`),
    index('notifications_message_idx').on(t.messageId),
    check('notifications_kind_ck', sql`${t.kind} in ('message', 'mention', 'reply', 'edit', 'system')`),
  ],
);

/** Read model: conversations this service has heard of. */
export const conversations = notificationSchema.table('conversations', {
  id: uuid('id').primaryKey(),
  type: text('type').$type<'direct' | 'group'>().notNull(),
  title: text('title'),
  /**
   * True once the full member list is known (from conversation.created or
   * from the conversation service's answer); a conversation only learned of
   * through a member.* event is asked for its members before use.
   */
  membersComplete: boolean('members_complete').notNull().default(false),
  /** occurredAt of the latest fact applied to this row (older facts are ignored). */
  versionAt: ts('version_at').notNull(),
});

/** Read model: membership state and notification preference per member. */
export const members = notificationSchema.table(
  'members',
  {
    conversationId: uuid('conversation_id').notNull(),
    userId: uuid('user_id').notNull(),
    /** `removed` covers left, removed and deleted accounts. */
    state: text('state').$type<'active' | 'muted' | 'banned' | 'removed'>().notNull(),
    preference: text('preference').$type<'all' | 'mentions' | 'none'>().notNull(),
    /** occurredAt of the latest fact applied (member.* events come on separate consumers, maybe out of order). */
    versionAt: ts('version_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    index('members_user_idx').on(t.userId),
    check('members_state_ck', sql`${t.state} in ('active', 'muted', 'banned', 'removed')`),
    check('members_preference_ck', sql`${t.preference} in ('all', 'mentions', 'none')`),
  ],
);

/** Read model: public user names for notification titles. */
export const users = notificationSchema.table('users', {
  id: uuid('id').primaryKey(),
  name: text('name'),
  deletedAt: ts('deleted_at'),
  versionAt: ts('version_at').notNull(),
});

/** Read model: one row per message seen (not its content). */
export const messages = notificationSchema.table(
  'messages',
  {
    id: uuid('id').primaryKey(),
    conversationId: uuid('conversation_id').notNull(),
    seq: integer('seq').notNull(),
    senderId: uuid('sender_id'),
    /** editedAt of the last edit that produced notifications (throttle). */
    lastEditNotifiedAt: ts('last_edit_notified_at'),
  },
  (t) => [index('messages_conversation_idx').on(t.conversationId, t.seq)],
);

/**
 * Read model: each member's read marker per conversation (from receipt.read),
 * so a read is known to be applied before answering its author
 * (read-your-writes watermark of the message service).
 */
export const readMarks = notificationSchema.table(
  'read_marks',
  {
    userId: uuid('user_id').notNull(),
    conversationId: uuid('conversation_id').notNull(),
    readSeq: integer('read_seq').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.conversationId] })],
);

export const outbox = outboxTable(notificationSchema);
export const processedEvents = processedEventsTable(notificationSchema);
