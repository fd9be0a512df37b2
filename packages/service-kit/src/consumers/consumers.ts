/**
 * Idempotent durable consumers. `on()` runs each event in one transaction
 * that first records (consumer, event id) in the service's processed_events
 * table and then lets the handler write: an event delivered again (JetStream
 * is at-least-once, and its de-duplication window is finite) finds its row
 * and is acked without effect, and a handler that throws rolls the record
 * back with its writes, so the redelivery applies it. Handlers run inside
 * the event's request context, so what they log and emit carries the id of
 * the request that caused the event.
 */
import type { AnyEventEnvelope } from '@parley/contracts';
import { type Histogram, Registry } from 'prom-client';
import { withRequestContext } from '../context';
import type { ConsumerHandle, DeliveredEvent, DurableConsumerOptions } from '../bus/bus';
import type { Tx } from '../db/database';
import type { Infra } from '../infra';
import type { ProcessedEventsTable } from '../outbox/outbox.table';
import { consumerMetrics } from './consumers.metrics';

export type TransactionalHandler = (event: AnyEventEnvelope, tx: Tx, delivery: DeliveredEvent) => Promise<void>;
export type EventHandler = (event: AnyEventEnvelope, delivery: DeliveredEvent) => Promise<void>;

export interface ConsumersOptions {
  infra: Pick<Infra, 'db' | 'bus' | 'logger'>;
  /** The service's Postgres schema (for logs). */
  schema: string;
  /** The service's processed_events table; required for `on()`. */
  table?: ProcessedEventsTable;
  /** Consuming service, e.g. `notification` (logs; durable names start with it by convention). */
  service: string;
  /** Registry for `consumer_pending{durable}` and `consumer_handle_seconds{durable}`. */
  metrics?: Registry;
  /**
   * Called after an `on()` handler's transaction committed. Pass
   * `() => outbox.kick()` so events a handler wrote into the outbox are
   * published at once instead of at the relay's next sweep.
   */
  afterCommit?: () => void;
}

export interface Consumers {
  /** Durable consumer whose handler writes in a transaction that also records the event as processed. */
  on(opts: DurableConsumerOptions, handler: TransactionalHandler): Promise<ConsumerHandle>;
  /** Durable consumer without a database; the handler must be idempotent by itself. */
  onEvent(opts: DurableConsumerOptions, handler: EventHandler): Promise<ConsumerHandle>;
  /** Stops every consumer (in-flight handlers finish). */
  stop(): Promise<void>;
}

export function createConsumers(opts: ConsumersOptions): Consumers {
  const { infra, table } = opts;
  const { db, bus } = infra;
  const log = infra.logger.child({ component: 'consumers', service: opts.service, schema: opts.schema });
  const metrics = consumerMetrics(opts.metrics ?? new Registry());
  const handles = new Map<string, { handle: ConsumerHandle; unwatch: () => void }>();

  async function start(
    o: DurableConsumerOptions,
    run: (delivery: DeliveredEvent) => Promise<void>,
  ): Promise<ConsumerHandle> {
    if (handles.has(o.durable)) throw new Error(`consumer ${o.durable} is already running`);
    // The bus creates a missing stream from the contracts (never alters an existing one),
    // so a consumer may start before its producer ever ran.
    const timer: Histogram<'durable'> = metrics.handleSeconds;
    const handle = await bus.consume(o, (delivery) =>
      withRequestContext(delivery.headers, async () => {
        const end = timer.startTimer({ durable: o.durable });
        try {
          await run(delivery);
        } catch (err) {
          log.warn(
            {
              err,
              durable: o.durable,
              eventId: delivery.event.id,
              type: delivery.event.type,
              deliveryCount: delivery.deliveryCount,
            },
            'event handler failed; will be redelivered',
          );
          throw err;
        } finally {
          end();
        }
      }),
    );
    const unwatch = metrics.watchPending(o.durable, () => handle.pending());
    handles.set(o.durable, { handle, unwatch });
    return {
      durable: handle.durable,
      pending: () => handle.pending(),
      stop: async () => {
        if (handles.get(o.durable)?.handle === handle) {
          handles.delete(o.durable);
          unwatch();
        }
        await handle.stop();
      },
    };
  }

  return {
    on(o, handler) {
      if (!table) throw new Error('createConsumers: `table` (processed_events) is required for on()');
      return start(o, async (delivery) => {
        const applied = await db.db.transaction(async (tx) => {
          const first = await tx
            .insert(table)
            .values({ consumer: o.durable, eventId: delivery.event.id })
            .onConflictDoNothing()
            .returning({ eventId: table.eventId });
          if (first.length === 0) {
            log.debug({ durable: o.durable, eventId: delivery.event.id }, 'event already processed; skipped');
            return false;
          }
          await handler(delivery.event, tx, delivery);
          return true;
        });
        if (applied) opts.afterCommit?.();
      });
    },

    onEvent(o, handler) {
      return start(o, (delivery) => handler(delivery.event, delivery));
    },

    async stop() {
      const all = [...handles.values()];
      handles.clear();
      await Promise.all(
        all.map(async ({ handle, unwatch }) => {
          unwatch();
          await handle.stop();
        }),
      );
    },
  };
}
