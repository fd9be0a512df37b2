// Test-only example service (not shipped): the smallest service built on the kit.
import { integer, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { outboxTable, processedEventsTable } from '../../../src/outbox/outbox.table';

export const exampleSchema = pgSchema('example');

/** Rows the example route writes (one per accepted note). */
export const notes = exampleSchema.table('notes', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id').notNull(),
  title: text('title').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** What the example consumer applies: one count per user, so a double apply would show. */
export const noteCounts = exampleSchema.table('note_counts', {
  userId: uuid('user_id').primaryKey(),
  count: integer('count').notNull(),
});

export const outbox = outboxTable(exampleSchema);
export const processedEvents = processedEventsTable(exampleSchema);
