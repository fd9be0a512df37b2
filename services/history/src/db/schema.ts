/**
 * Tables of the history service (Postgres schema `history`).
 *
 * Owned: `messages` (current state of every message, with its `rev`, and the
 * full-text vector of its content), `revisions` (the content each edit
 * replaced), `deletions` (who deleted what, when; no content). Read models:
 * `members` (who may read which conversation) and `conversations` (highest
 * message rev applied, for read-your-writes), `deleted_users` (tombstones so
 * a late event never brings an erased user's text back). Only the
 * repositories import this file.
 */
import { processedEventsTable } from '@parley/service-kit';
import { sql } from 'drizzle-orm';
import {
  check,
  customType,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import type { Message } from '@parley/contracts';

export const historySchema = pgSchema('history');

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Postgres `tsvector` (drizzle has no built-in type for it). */
const tsvector = customType<{ data: string }>({
  dataType() {
    return 'tsvector';
  },
});

export const messages = historySchema.table(
  'messages',
  {
    id: uuid('id').primaryKey(),
    conversationId: uuid('conversation_id').notNull(),
    senderId: uuid('sender_id'),
    /** Rev of the change this row reflects; a change with a lower rev is older and ignored. */
    rev: integer('rev').notNull(),
    /** Current content ('' once deleted or erased): what the index covers. */
    content: text('content').notNull(),
    /** The message as last published (content emptied once deleted), returned by search. */
    snapshot: jsonb('snapshot').$type<Message>().notNull(),
    createdAt: ts('created_at').notNull(),
    deletedAt: ts('deleted_at'),
    /**
     * Text search configuration `english`: stems ("running" finds "run") and
     * drops English stop words. search.repository.ts uses the same name in
     * `websearch_to_tsquery` and `ts_headline`, so index and queries agree.
     */
    search: tsvector('search').notNull().generatedAlwaysAs(sql`to_tsvector('english'::regconfig, content)`),
  },
  (t) => [
    index('messages_search_idx').using('gin', t.search),
    index('messages_conversation_idx').on(t.conversationId),
    index('messages_sender_idx').on(t.senderId),
  ],
);

export const revisions = historySchema.table(
  'revisions',
  {
    messageId: uuid('message_id').notNull(),
    /** Rev of the edit that replaced this content. */
    rev: integer('rev').notNull(),
    conversationId: uuid('conversation_id').notNull(),
    /** The content before the edit. */
    content: text('content').notNull(),
    editedAt: ts('edited_at').notNull(),
    editorId: uuid('editor_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.rev] }), index('revisions_editor_idx').on(t.editorId)],
);

export const deletions = historySchema.table('deletions', {
  messageId: uuid('message_id').primaryKey(),
  conversationId: uuid('conversation_id').notNull(),
  /** Null when the system deleted it (e.g. account deletion). */
  deletedBy: uuid('deleted_by'),
  deletedAt: ts('deleted_at').notNull(),
  rev: integer('rev').notNull(),
});

export const members = historySchema.table(
  'members',
  {
    conversationId: uuid('conversation_id').notNull(),
    userId: uuid('user_id').notNull(),
    state: text('state').$type<'active' | 'muted' | 'banned' | 'removed'>().notNull(),
    /** occurredAt of the latest fact applied (member events come on separate consumers). */
    versionAt: ts('version_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    index('members_user_idx').on(t.userId, t.conversationId).where(sql`${t.state} in ('active', 'muted')`),
    check('members_state_ck', sql`${t.state} in ('active', 'muted', 'banned', 'removed')`),
  ],
);

export const conversations = historySchema.table('conversations', {
  id: uuid('id').primaryKey(),
  /** Highest message rev applied (read-your-writes watermark comparison). */
  appliedRev: integer('applied_rev').notNull().default(0),
});

export const deletedUsers = historySchema.table('deleted_users', {
  id: uuid('id').primaryKey(),
  deletedAt: ts('deleted_at').notNull(),
});

export const processedEvents = processedEventsTable(historySchema);
