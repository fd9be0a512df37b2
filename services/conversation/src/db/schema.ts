/**
 * Tables of the conversation service (Postgres schema `conversation`).
 *
 * Owned facts: `conversations`, `members`, `departed_mutes`. Local read models of other
 * services' facts: `users` (from auth's user.* events, with tombstones so a
 * late update never resurrects a deleted user) and `message_index` (one small
 * row per message from message.* events: what unread counts are computed
 * from). The message-derived columns of `conversations` (last_seq,
 * last_message_*) are part of the same read model.
 */
import { outboxTable, processedEventsTable } from '@parley/service-kit';
import { sql } from 'drizzle-orm';
import {
  boolean,
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

export const conversationSchema = pgSchema('conversation');

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Preview of the latest message, as stored in `conversations.last_message`. */
export interface StoredPreview {
  id: string;
  seq: number;
  rev: number;
  senderId: string | null;
  type: string;
  content: string;
  createdAt: string;
}

export const conversations = conversationSchema.table(
  'conversations',
  {
    id: uuid('id').primaryKey(),
    type: text('type').$type<'direct' | 'group'>().notNull(),
    title: text('title'),
    visibility: text('visibility').$type<'private' | 'public'>().notNull(),
    status: text('status').$type<'open' | 'closed' | 'archived'>().notNull(),
    maxMembers: integer('max_members').notNull(),
    /** Active and muted members (banned ones are not counted). */
    memberCount: integer('member_count').notNull(),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull(),
    createdBy: uuid('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    /** Sorted pair `a:b` of a direct conversation; unique, so a pair has one. */
    directKey: text('direct_key'),
    /** Greatest of created_at and the latest message's time: the list order. */
    lastActivityAt: ts('last_activity_at').notNull(),
    lastMessageAt: ts('last_message_at'),
    lastSeq: integer('last_seq').notNull().default(0),
    /** Highest message rev seen (read-your-writes watermark). */
    lastRev: integer('last_rev').notNull().default(0),
    lastMessage: jsonb('last_message').$type<StoredPreview>(),
  },
  (t) => [
    uniqueIndex('conversations_direct_key_uq').on(t.directKey),
    index('conversations_public_idx')
      .on(t.lastActivityAt.desc(), t.id.desc())
      .where(sql`${t.visibility} = 'public' and ${t.status} = 'open' and ${t.type} = 'group'`),
    check('conversations_type_ck', sql`${t.type} in ('direct', 'group')`),
    check('conversations_status_ck', sql`${t.status} in ('open', 'closed', 'archived')`),
    check('conversations_visibility_ck', sql`${t.visibility} in ('private', 'public')`),
  ],
);

export const members = conversationSchema.table(
  'members',
  {
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull(),
    role: text('role').$type<'owner' | 'admin' | 'member'>().notNull(),
    state: text('state').$type<'active' | 'muted' | 'banned'>().notNull(),
    notifications: text('notifications').$type<'all' | 'mentions' | 'none'>().notNull().default('all'),
    joinedAt: ts('joined_at').notNull(),
    /** Read marker from receipt.read events (never moves backwards). */
    lastReadSeq: integer('last_read_seq').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    index('members_user_idx').on(t.userId),
    check('members_role_ck', sql`${t.role} in ('owner', 'admin', 'member')`),
    check('members_state_ck', sql`${t.state} in ('active', 'muted', 'banned')`),
  ],
);

/**
 * Mutes that outlive a departure: a muted member who leaves (or is removed)
 * comes back muted when they rejoin a public group by themself, so leaving and
 * joining again does not lift a mute. An admin adding them back is a grant and
 * clears it.
 */
export const departedMutes = conversationSchema.table(
  'departed_mutes',
  {
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull(),
    departedAt: ts('departed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] })],
);

/** Read model of users (auth's user.* events, RPC.authUsers on a miss). */
export const users = conversationSchema.table('users', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  avatarUrl: text('avatar_url'),
  statusText: text('status_text'),
  createdAt: ts('created_at').notNull(),
  /** Tombstone: set by user.deleted; such a user is unknown for every purpose. */
  deletedAt: ts('deleted_at'),
});

/** Compact index of messages for exact unread counts (message.* events). */
export const messageIndex = conversationSchema.table(
  'message_index',
  {
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    rev: integer('rev').notNull(),
    senderId: uuid('sender_id'),
    isSystem: boolean('is_system').notNull(),
    deleted: boolean('deleted').notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.seq] })],
);

export const outbox = outboxTable(conversationSchema);
export const processedEvents = processedEventsTable(conversationSchema);
