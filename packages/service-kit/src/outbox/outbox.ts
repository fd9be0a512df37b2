/**
 * Transactional outbox (publish on save, docs/decisions/0003). Events are
 * rows written in the caller's transaction; after COMMIT the writer wakes the
 * relay, which publishes at once. The relay claims unpublished rows with
 * `published_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED` (never "id > last
 * seen", which skips rows committed out of id order), publishes each with
 * `Nats-Msg-Id = event id` (so a re-publish after a crash is de-duplicated),
 * marks the acknowledged ones in the same transaction and retries the rest
 * with backoff. `start()` publishes whatever a crash left, and a periodic
 * sweep picks up rows of a crashed replica or a missed wake-up.
 *
 * Publishes are pipelined: one subject's rows are sent in id order without
 * waiting for each acknowledgement (JetStream stores one connection's
 * publishes in the order sent), at most `maxInFlight` unacknowledged over all
 * subjects. When one fails, it and every later row of its subject stay
 * unpublished and the next round re-publishes them in order; those already
 * stored are de-duplicated by Nats-Msg-Id. So on the happy path a subject's
 * events are stored in id order, and nothing is lost or delivered twice;
 * but when a publish fails while later ones of its subject were stored (a
 * disconnect or timeout in the middle of a run), the failed event is stored
 * after them: consumers see that subject's events out of order once. The
 * adapter's own retries are off on this path (attempts: 1) so a retry never
 * lands behind later events without the relay knowing. Rows are validated
 * once, by makeEvent in add(), and published with `validated: true`.
 */
import {
  type EventData,
  type EventEnvelope,
  type EventHeaders,
  type EventType,
  keyOf,
  makeEvent,
  STREAMS,
  type StreamKey,
  streamOf,
  subjectOf,
} from '@parley/contracts';
import { and, asc, count, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { currentHeaders } from '../context';
import type { DbOrTx, Tx } from '../db/database';
import { newId } from '../ids';
import type { Infra } from '../infra';
import { outboxMetrics } from './outbox.metrics';
import type { OutboxTable } from './outbox.table';

export type Emit = <T extends EventType>(type: T, data: EventData<T>) => Promise<EventEnvelope<T>>;

export interface OutboxOptions {
  infra: Pick<Infra, 'db' | 'bus' | 'logger'>;
  /** The service's Postgres schema (for logs). */
  schema: string;
  /** `producer` of every envelope, e.g. `message`. */
  producer: string;
  table: OutboxTable;
  /** Rows claimed per relay round (default 100); doubled after each full round up to `maxBatchSize`. */
  batchSize?: number;
  /** Largest claim of one round while a backlog drains (default 10 × batchSize). */
  maxBatchSize?: number;
  /**
   * Publishes awaiting their JetStream acknowledgement at once, over all
   * subjects (default 256). One subject's events are sent in id order
   * without waiting for each other's acknowledgement.
   */
  maxInFlight?: number;
  /** Safety sweep period in ms (default 1000). */
  sweepIntervalMs?: number;
  /** Retry backoff after a failed round: first and maximum delay in ms (default 100, 5000). */
  retryBackoffMs?: { initial: number; max: number };
  /** Published rows are deleted after this long (default 24 h; 0 keeps them). */
  retainPublishedMs?: number;
  /** Registry for `outbox_backlog`, `outbox_published_total`, `outbox_publish_errors_total`. */
  metrics?: Registry;
}

export interface Outbox {
  /** Runs `fn` in a transaction; events emitted in it are published right after COMMIT. */
  transaction<T>(fn: (tx: Tx, emit: Emit) => Promise<T>): Promise<T>;
  /** Writes an event in a transaction the caller owns; call `kick()` after its COMMIT. */
  add<T extends EventType>(tx: DbOrTx, type: T, data: EventData<T>): Promise<EventEnvelope<T>>;
  /**
   * Writes many events in ONE multi-row INSERT (in chunks of
   * `ADD_MANY_CHUNK` rows) in a transaction the caller owns, e.g. one
   * `notification.created` per recipient of a message; call `kick()` after
   * its COMMIT. Each event is validated as `add` does; rows keep the order
   * given (ids ascending), so one subject's events are published in it.
   */
  addMany<T extends EventType>(tx: DbOrTx, events: readonly NewOutboxEvent<T>[]): Promise<EventEnvelope<T>[]>;
  /** Wakes the relay (no-op while stopped). */
  kick(): void;
  /** Starts the relay: publishes every row left unpublished, then runs on kicks and sweeps. */
  start(): Promise<void>;
  /** Stops the relay after its current round. Unpublished rows stay for the next start. */
  stop(): Promise<void>;
  /** Rows committed but not yet published. */
  backlog(): Promise<number>;
}

export interface NewOutboxEvent<T extends EventType = EventType> {
  type: T;
  data: EventData<T>;
}

/** Rows per INSERT of `addMany` (5 parameters each: far below Postgres' 65,535). */
export const ADD_MANY_CHUNK = 2000;

type OutboxRow = OutboxTable['$inferSelect'];

const sleepUnlessStopped = (ms: number, signal: { wake?: () => void }) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });

export function createOutbox(opts: OutboxOptions): Outbox {
  const { infra, table, producer } = opts;
  const { db, bus } = infra;
  const log = infra.logger.child({ component: 'outbox', producer, schema: opts.schema });
  const batchSize = Math.max(1, opts.batchSize ?? 100);
  const maxBatchSize = Math.max(batchSize, opts.maxBatchSize ?? 10 * batchSize);
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 256);
  const sweepIntervalMs = opts.sweepIntervalMs ?? 1000;
  const backoff = opts.retryBackoffMs ?? { initial: 100, max: 5000 };
  const retainMs = opts.retainPublishedMs ?? 24 * 3600_000;
  const metrics = outboxMetrics(opts.metrics ?? new Registry());

  let running = false;
  let again = false;
  let draining: Promise<void> | null = null;
  let sweepTimer: NodeJS.Timeout | null = null;
  let failures = 0;
  let lastCleanup = 0;
  const backoffSignal: { wake?: () => void } = {};
  const ensuredStreams = new Set<StreamKey>();
  let unwatch: (() => void) | null = null;

  function headersNow(): EventHeaders {
    const headers: EventHeaders = {};
    const h = currentHeaders();
    if (h.requestId) headers.requestId = h.requestId;
    if (h.traceparent) headers.traceparent = h.traceparent;
    return headers;
  }

  function rowOf<T extends EventType>(type: T, data: EventData<T>, headers: EventHeaders) {
    // Validates the data against the contract (throws EventValidationError).
    const event = makeEvent(type, data, { id: newId(), producer });
    const subject = subjectOf(type, keyOf(type, data));
    return { event, row: { eventId: event.id, subject, type, payload: event as OutboxRow['payload'], headers } };
  }

  async function add<T extends EventType>(tx: DbOrTx, type: T, data: EventData<T>): Promise<EventEnvelope<T>> {
    const { event, row } = rowOf(type, data, headersNow());
    await tx.insert(table).values(row);
    return event;
  }

  async function addMany<T extends EventType>(
    tx: DbOrTx,
    events: readonly NewOutboxEvent<T>[],
  ): Promise<EventEnvelope<T>[]> {
    if (events.length === 0) return [];
    const headers = headersNow();
    // Every event is validated before anything is written.
    const made = events.map((e) => rowOf(e.type, e.data, headers));
    for (let i = 0; i < made.length; i += ADD_MANY_CHUNK) {
      await tx.insert(table).values(made.slice(i, i + ADD_MANY_CHUNK).map((m) => m.row));
    }
    return made.map((m) => m.event);
  }

  // Validated by makeEvent in add(); one attempt, since a failed event and the
  // later ones of its subject are re-published together by the next round.
  const publishOptions = (row: OutboxRow) => ({ headers: row.headers, validated: true, attempts: 1 });

  async function ensureStreams(rows: OutboxRow[]) {
    for (const row of rows) {
      const key = streamOf(row.type as EventType);
      if (ensuredStreams.has(key)) continue;
      const def = STREAMS[key];
      await bus.ensureStream({ name: def.name, subjects: def.subjects });
      ensuredStreams.add(key);
    }
  }

  /**
   * Publishes rows and returns the ids to mark published. One subject's rows
   * are sent in id order without waiting for each acknowledgement (JetStream
   * stores one connection's publishes in the order sent), at most
   * `maxInFlight` unacknowledged at once over all subjects. When a publish
   * fails, that row and every later row of its subject count as not published
   * (the ones already sent are not awaited in vain: the retry re-publishes
   * them and the stream de-duplicates by Nats-Msg-Id).
   */
  async function publishRows(rows: OutboxRow[]): Promise<{ acked: number[]; failed: number }> {
    const bySubject = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const list = bySubject.get(row.subject);
      if (list) list.push(row);
      else bySubject.set(row.subject, [row]);
    }
    let inFlight = 0;
    const waiting: (() => void)[] = [];
    const release = () => {
      const next = waiting.shift();
      if (next)
        next(); // the slot passes on
      else inFlight--;
    };
    const acked: number[] = [];
    let failed = 0;
    let published = 0;
    const lane = async (queue: OutboxRow[]) => {
      // Index of the first row of this subject whose publish failed (queue.length: none).
      let firstFailed = queue.length;
      const sent: Promise<void>[] = [];
      for (let i = 0; i < queue.length && i < firstFailed; i++) {
        if (inFlight < maxInFlight) inFlight++;
        else {
          await new Promise<void>((resolve) => waiting.push(resolve));
          if (i >= firstFailed) {
            release();
            break;
          }
        }
        const row = queue[i]!;
        sent.push(
          bus.publishDurable(row.subject, row.payload, publishOptions(row)).then(release, (err: unknown) => {
            release();
            metrics.publishErrors.inc({ producer });
            if (i < firstFailed) {
              firstFailed = i;
              log.warn({ err, eventId: row.eventId, subject: row.subject }, 'outbox publish failed; will retry');
            }
          }),
        );
      }
      await Promise.all(sent);
      // Rows before the first failure were all sent and acknowledged.
      for (let i = 0; i < firstFailed; i++) acked.push(queue[i]!.id);
      published += firstFailed;
      failed += queue.length - firstFailed;
    };
    await Promise.all(Array.from(bySubject.values(), lane));
    if (published > 0) metrics.published.inc({ producer }, published);
    return { acked, failed };
  }

  /** One relay round: claim, publish, mark. */
  async function relayRound(limit: number): Promise<{ claimed: number; failed: number }> {
    const claimAndPublish = async (q: DbOrTx, lock: boolean) => {
      const select = q.select().from(table).where(isNull(table.publishedAt)).orderBy(asc(table.id)).limit(limit);
      const rows = lock ? await select.for('update', { skipLocked: true }) : await select;
      if (rows.length === 0) return { claimed: 0, failed: 0 };
      await ensureStreams(rows);
      const { acked, failed } = await publishRows(rows);
      if (acked.length > 0) {
        // One array parameter rather than one parameter per id (batches reach maxBatchSize rows).
        await q
          .update(table)
          .set({ publishedAt: sql`now()` })
          .where(sql`${table.id} = any(${`{${acked.join(',')}}`}::bigint[])`);
      }
      return { claimed: rows.length, failed };
    };
    // PGlite is one connection in one process with one relay per table: row
    // locks would add nothing, and holding its only connection while
    // publishing would stall every other query of the process.
    if (db.kind === 'pglite') return claimAndPublish(db.db, false);
    return db.db.transaction((tx) => claimAndPublish(tx, true));
  }

  async function cleanup() {
    if (retainMs <= 0 || Date.now() - lastCleanup < Math.min(retainMs, 60_000)) return;
    lastCleanup = Date.now();
    const cutoff = new Date(Date.now() - retainMs);
    await db.db.delete(table).where(and(isNotNull(table.publishedAt), lt(table.publishedAt, cutoff)));
  }

  async function drain() {
    let limit = batchSize;
    while (running && again) {
      again = false;
      let round: { claimed: number; failed: number };
      try {
        round = await relayRound(limit);
      } catch (err) {
        // Database or stream provisioning failed: nothing was marked, retry the round.
        log.warn({ err }, 'outbox relay round failed; will retry');
        round = { claimed: 0, failed: 1 };
      }
      if (round.failed > 0) {
        failures++;
        // The stream may be gone (server store lost): ensure it again next round.
        ensuredStreams.clear();
        again = true;
        const delay = Math.min(backoff.max, backoff.initial * 2 ** Math.min(failures - 1, 16));
        await sleepUnlessStopped(delay, backoffSignal);
        continue;
      }
      failures = 0;
      // A full batch means more may be waiting: claim more per round (fewer
      // transactions per event) until the backlog is gone.
      if (round.claimed >= limit) {
        again = true;
        limit = Math.min(maxBatchSize, limit * 2);
      } else limit = batchSize;
    }
    if (running) {
      try {
        await cleanup();
      } catch (err) {
        log.warn({ err }, 'outbox cleanup failed');
      }
    }
  }

  function kick() {
    if (!running) return;
    again = true;
    if (!draining) {
      draining = drain().finally(() => {
        draining = null;
        // A kick that arrived while the last round was finishing.
        if (running && again) kick();
      });
    }
  }

  async function backlog(): Promise<number> {
    const [row] = await db.db.select({ n: count() }).from(table).where(isNull(table.publishedAt));
    return Number(row?.n ?? 0);
  }

  return {
    add,
    addMany,
    kick,
    backlog,

    async transaction<T>(fn: (tx: Tx, emit: Emit) => Promise<T>): Promise<T> {
      let emitted = false;
      const result = await db.db.transaction(async (tx) => {
        const emit: Emit = (type, data) => {
          emitted = true;
          return add(tx, type, data);
        };
        return fn(tx, emit);
      });
      if (emitted) kick();
      return result;
    },

    async start() {
      if (running) return;
      running = true;
      unwatch = metrics.watchBacklog(producer, backlog);
      kick();
      sweepTimer = setInterval(kick, sweepIntervalMs);
      sweepTimer.unref();
    },

    async stop() {
      running = false;
      if (sweepTimer) clearInterval(sweepTimer);
      sweepTimer = null;
      unwatch?.();
      unwatch = null;
      backoffSignal.wake?.();
      await draining;
    },
  };
}
