/**
 * Tables a service includes in its own `db/schema.ts` (and so in its own
 * drizzle-kit migrations): the outbox its relay publishes from, and the
 * processed-events ledger that makes its consumers idempotent.
 */
import type { AnyEventEnvelope, EventHeaders } from '@parley/contracts';
import { sql } from 'drizzle-orm';
import { bigserial, index, jsonb, type PgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export function outboxTable<S extends string>(schema: PgSchema<S>) {
  return schema.table(
    'outbox',
    {
      id: bigserial('id', { mode: 'number' }).primaryKey(),
      eventId: uuid('event_id').notNull().unique(),
      subject: text('subject').notNull(),
      type: text('type').notNull(),
      /** The whole validated envelope, published as is. */
      payload: jsonb('payload').$type<AnyEventEnvelope>().notNull(),
      headers: jsonb('headers').$type<EventHeaders>().notNull().default({}),
      createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
      publishedAt: timestamp('published_at', { withTimezone: true }),
    },
    (t) => [index('outbox_unpublished_idx').on(t.id).where(sql`published_at IS NULL`)],
  );
}
export type OutboxTable = ReturnType<typeof outboxTable<string>>;

export function processedEventsTable<S extends string>(schema: PgSchema<S>) {
  return schema.table(
    'processed_events',
    {
      /** The durable consumer name, e.g. `notification-message-created`. */
      consumer: text('consumer').notNull(),
      eventId: uuid('event_id').notNull(),
      processedAt: timestamp('processed_at', { withTimezone: true }).notNull().defaultNow(),
    },
    (t) => [primaryKey({ columns: [t.consumer, t.eventId] })],
  );
}
export type ProcessedEventsTable = ReturnType<typeof processedEventsTable<string>>;
