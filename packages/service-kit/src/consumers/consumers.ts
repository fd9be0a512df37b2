/**
 * Idempotent durable consumers. `on()` applies events in transactions that
 * first record (consumer, event id) in the service's processed_events table
 * and then let the handler write: an event delivered again (JetStream is
 * at-least-once, and its de-duplication window is finite) finds its row and
 * is acked without effect, and a handler that throws rolls the record back
 * with its writes, so the redelivery applies it. Handlers run inside the
 * event's request context, so what they log and emit carries the id of the
 * request that caused the event.
 *
 * Batching: one transaction costs a round trip each for BEGIN, the
 * processed_events insert and COMMIT, whatever the handler does. So `on()`
 * lets the bus hand it several events at once and, while one transaction
 * runs, queues the events that arrive; the next transaction takes every
 * queued event (up to `maxBatch`), records them with ONE multi-row insert,
 * runs the handler of each event not processed before, one after the other
 * in the order the bus delivered them (stream order), commits once, calls
 * `afterCommit` once and only then resolves each event's delivery, so the
 * bus acks nothing before its effects are committed. If that transaction
 * fails (a handler throws, a serialization failure, ...), it is rolled back
 * and its events are applied again one by one, each in its own transaction
 * as without batching: a poison event fails (and is redelivered or
 * dead-lettered by the bus) alone while the others commit.
 */
import type { AnyEventEnvelope } from '@parley/contracts';
import { type Histogram, Registry } from 'prom-client';
import { withRequestContext } from '../context';
import type { ConsumerHandle, DeliveredEvent, DurableConsumerOptions } from '../bus/bus';
import { CONSUMER_DEFAULTS } from '../bus/consumer-options';
import type { Tx } from '../db/database';
import type { Infra } from '../infra';
import type { ProcessedEventsTable } from '../outbox/outbox.table';
import { consumerMetrics } from './consumers.metrics';

export type TransactionalHandler = (event: AnyEventEnvelope, tx: Tx, delivery: DeliveredEvent) => Promise<void>;
export type EventHandler = (event: AnyEventEnvelope, delivery: DeliveredEvent) => Promise<void>;

/** Options of `on()`: a durable consumer, and how many events one transaction may apply. */
export interface TransactionalConsumerOptions extends DurableConsumerOptions {
  /** Most events applied in one transaction (default: the `maxBatch` given to createConsumers). */
  maxBatch?: number;
}

/** Default most events per `on()` transaction. */
export const DEFAULT_MAX_BATCH = 100;

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
  /**
   * Most events one `on()` transaction applies (default 100). Unless an
   * `on()` consumer sets `concurrency` itself, it asks the bus for twice
   * this many events in flight (at most its `maxAckPending`), so a full
   * batch can queue while the previous one commits.
   */
  maxBatch?: number;
}

export interface Consumers {
  /**
   * Durable consumer whose handler writes in a transaction that also records
   * the event as processed (several events per transaction: see the top of
   * this file). An explicit `concurrency` is honoured: 1 applies one event
   * per transaction, as before batching.
   */
  on(opts: TransactionalConsumerOptions, handler: TransactionalHandler): Promise<ConsumerHandle>;
  /** Durable consumer without a database; the handler must be idempotent by itself. */
  onEvent(opts: DurableConsumerOptions, handler: EventHandler): Promise<ConsumerHandle>;
  /** Stops every consumer (in-flight handlers finish). */
  stop(): Promise<void>;
}

interface Queued {
  delivery: DeliveredEvent;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`consumer option ${name}: expected an integer >= 1, got ${value}`);
  return value;
}

/** Event ids as processed_events returns them (uuid columns come back lower-case). */
const idKey = (id: string) => id.toLowerCase();

export function createConsumers(opts: ConsumersOptions): Consumers {
  const { infra, table } = opts;
  const { db, bus } = infra;
  const log = infra.logger.child({ component: 'consumers', service: opts.service, schema: opts.schema });
  const metrics = consumerMetrics(opts.metrics ?? new Registry());
  const handles = new Map<string, { handle: ConsumerHandle; unwatch: () => void }>();
  const defaultMaxBatch = positiveInt('maxBatch', opts.maxBatch ?? DEFAULT_MAX_BATCH);

  /**
   * Starts a durable consumer. `run` is timed per delivery into
   * consumer_handle_seconds unless `timesItself` (the batching `on()`
   * observes the time of its transactions itself).
   */
  async function start(
    o: DurableConsumerOptions,
    run: (delivery: DeliveredEvent) => Promise<void>,
    timesItself = false,
  ): Promise<ConsumerHandle> {
    if (handles.has(o.durable)) throw new Error(`consumer ${o.durable} is already running`);
    // The bus creates a missing stream from the contracts (never alters an existing one),
    // so a consumer may start before its producer ever ran.
    const timer: Histogram<'durable'> = metrics.handleSeconds;
    const handle = await bus.consume(o, (delivery) =>
      withRequestContext(delivery.headers, async () => {
        const end = timesItself ? undefined : timer.startTimer({ durable: o.durable });
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
          end?.();
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

  /**
   * The batching part of `on()`: `submit` queues a delivery and resolves once
   * its transaction committed (or it was found processed before); one batch
   * runs at a time, in the order deliveries were submitted.
   */
  function batcher(durable: string, maxBatch: number, ackWaitMs: number, handler: TransactionalHandler) {
    const queue: Queued[] = [];
    let current: Queued[] = [];
    let running = false;

    /** Records the events (one statement) and applies those not processed before, in order; true if any was. */
    async function apply(batch: Queued[]): Promise<boolean> {
      return db.db.transaction(async (tx) => {
        const ids = [...new Set(batch.map((q) => idKey(q.delivery.event.id)))];
        const inserted = await tx
          .insert(table!)
          .values(ids.map((eventId) => ({ consumer: durable, eventId })))
          .onConflictDoNothing()
          .returning({ eventId: table!.eventId });
        const fresh = new Set(inserted.map((r) => idKey(r.eventId)));
        let applied = false;
        for (const { delivery } of batch) {
          // delete: an event queued twice (a redelivery of one still in flight) is applied once.
          if (!fresh.delete(idKey(delivery.event.id))) {
            log.debug({ durable, eventId: delivery.event.id }, 'event already processed; skipped');
            continue;
          }
          await withRequestContext(delivery.headers, () => handler(delivery.event, tx, delivery));
          applied = true;
        }
        return applied;
      });
    }

    /** Amortised share of a transaction's time per event: the sum stays the time spent applying events. */
    function observe(startedAt: bigint, events: number): void {
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9 / events;
      for (let i = 0; i < events; i++) metrics.handleSeconds.observe({ durable }, seconds);
    }

    /** afterCommit is a wake-up call: its failure must not undo (nak) events already committed. */
    function committed(): void {
      try {
        opts.afterCommit?.();
      } catch (err) {
        log.error({ err, durable }, 'afterCommit failed');
      }
    }

    async function runBatch(batch: Queued[]): Promise<void> {
      const startedAt = process.hrtime.bigint();
      let applied: boolean;
      try {
        applied = await apply(batch);
      } catch (err) {
        if (batch.length === 1) {
          observe(startedAt, 1);
          batch[0]!.reject(err);
          return;
        }
        log.info({ err, durable, events: batch.length }, 'batch transaction failed; applying its events one by one');
        let anyApplied = false;
        for (const q of batch) {
          const oneStartedAt = process.hrtime.bigint();
          try {
            anyApplied = (await apply([q])) || anyApplied;
            metrics.batchEvents.observe({ durable }, 1);
            q.resolve();
          } catch (oneErr) {
            q.reject(oneErr);
          } finally {
            observe(oneStartedAt, 1);
          }
        }
        if (anyApplied) committed();
        return;
      }
      metrics.batchEvents.observe({ durable }, batch.length);
      observe(startedAt, batch.length);
      if (applied) committed();
      for (const q of batch) q.resolve();
    }

    async function drain(): Promise<void> {
      // Events the bus delivers in one go (a fetched batch) are all submitted within this turn of the loop.
      await new Promise<void>((r) => setImmediate(r));
      // Events waiting here (or in a long batch) must not reach the bus's ack deadline.
      const keepAlive = setInterval(
        () => {
          for (const q of current) q.delivery.working();
          for (const q of queue) q.delivery.working();
        },
        Math.max(100, Math.floor(ackWaitMs / 3)),
      );
      keepAlive.unref();
      try {
        while (queue.length > 0) {
          current = queue.splice(0, maxBatch);
          await runBatch(current);
          current = [];
        }
      } finally {
        clearInterval(keepAlive);
        running = false;
      }
    }

    return {
      submit(delivery: DeliveredEvent): Promise<void> {
        return new Promise<void>((resolve, reject) => {
          queue.push({ delivery, resolve, reject });
          if (running) return;
          running = true;
          // Outside any one event's request context: each handler gets its own.
          withRequestContext({}, () => {
            drain().catch((err) => {
              // runBatch settles every event it takes; this is a bug guard, not a path.
              log.error({ err, durable }, 'consumer batch loop failed');
              for (const q of [...current.splice(0), ...queue.splice(0)]) q.reject(err);
            });
          });
        });
      },
    };
  }

  return {
    on(o, handler) {
      if (!table) throw new Error('createConsumers: `table` (processed_events) is required for on()');
      const { maxBatch: ownMax, ...consumerOpts } = o;
      const maxBatch = positiveInt('maxBatch', ownMax ?? defaultMaxBatch);
      const maxAckPending = o.maxAckPending ?? CONSUMER_DEFAULTS.maxAckPending;
      // Several events in flight let a batch form; a caller's own concurrency is honoured.
      const concurrency = o.concurrency ?? Math.max(1, Math.min(2 * maxBatch, maxAckPending));
      const batches = batcher(o.durable, maxBatch, o.ackWaitMs ?? CONSUMER_DEFAULTS.ackWaitMs, handler);
      return start({ ...consumerOpts, concurrency }, (delivery) => batches.submit(delivery), true);
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
