// Test-only example service (not shipped): the smallest service built on the kit.
import { integer, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { outboxTable, processedEventsTable } from '../../../src/outbox/outbox.table';

export const exampleSchema = pgSchema('example');

/** What the example route writes: one profile per user. */
export const profiles = exampleSchema.table('profiles', {
  userId: uuid('user_id').primaryKey(),
  name: text('name').notNull(),
  avatarUrl: text('avatar_url'),
  statusText: text('status_text'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * What the example consumer applies from `user.updated`: a count per user, so
 * an event applied twice would show, and the request id the event carried.
 */
export const profileUpdates = exampleSchema.table('profile_updates', {
  userId: uuid('user_id').primaryKey(),
  count: integer('count').notNull(),
  lastRequestId: text('last_request_id'),
});

export const outbox = outboxTable(exampleSchema);
export const processedEvents = processedEventsTable(exampleSchema);
