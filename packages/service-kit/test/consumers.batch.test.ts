/**
 * Batched idempotent consumers (`consumers.on()`), on the real Postgres and
 * NATS and on the embedded stand-ins (PGlite and the memory bus): a burst of
 * events is applied in fewer transactions than events and in stream order,
 * a poison event in the middle of a batch fails alone while the others
 * commit once, an event processed before is skipped, afterCommit is called,
 * and a caller's own concurrency still means one event at a time.
 */
import { fileURLToPath } from 'node:url';
import { makeEvent, STREAMS } from '@parley/contracts';
import { eq, inArray, sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeliveredEvent } from '../src/bus/bus';
import { createConsumers } from '../src/consumers/consumers';
import { currentRequestId } from '../src/context';
import type { Tx } from '../src/db/database';
import { newId } from '../src/ids';
import { createTestInfra, type TestInfra } from '../src/testing/infra';
import { requireServers } from '../src/testing/servers';
import { processedEvents, profileUpdates } from './example-service/db/schema';

await requireServers(['postgres', 'nats']);

const migrationsFolder = fileURLToPath(new URL('./example-service/drizzle', import.meta.url));

describe.each([
  { mode: 'Postgres + NATS', real: true },
  { mode: 'PGlite + memory bus', real: false },
])('batched idempotent consumers ($mode)', ({ real }) => {
  let infra: TestInfra;
  let durableNo = 0;
  const durable = (what: string) => `batch-${what}-${++durableNo}`;

  const userDeleted = () =>
    makeEvent(
      'user.deleted',
      { userId: newId(), deletedAt: new Date().toISOString() },
      { id: newId(), producer: 'auth' },
    );
  type Ev = ReturnType<typeof userDeleted>;

  /** Stores the events one after another (so stream order is publish order); nothing consumes them yet. */
  const publish = async (events: Ev[], requestIdOf?: (i: number) => string) => {
    for (const [i, e] of events.entries()) {
      await infra.bus.publishDurable(`user.${e.data.userId}.deleted`, e, {
        headers: requestIdOf ? { requestId: requestIdOf(i) } : undefined,
      });
    }
  };

  /** The consumer's effect: one count per user, so a second apply would show as 2. */
  const counts = async (events: Ev[]) => {
    const rows = await infra.db.db
      .select()
      .from(profileUpdates)
      .where(
        inArray(
          profileUpdates.userId,
          events.map((e) => e.data.userId),
        ),
      );
    const byUser = new Map(rows.map((r) => [r.userId, r.count]));
    return events.map((e) => byUser.get(e.data.userId) ?? 0);
  };

  const applyEffect = async (event: { data: unknown }, tx: Tx) => {
    const { userId } = event.data as { userId: string };
    await tx
      .insert(profileUpdates)
      .values({ userId, count: 1 })
      .onConflictDoUpdate({ target: profileUpdates.userId, set: { count: sql`${profileUpdates.count} + 1` } });
  };

  beforeAll(async () => {
    infra = await createTestInfra({ service: 'consumers-batch', real });
    await infra.db.migrate({ schema: 'example', migrationsFolder });
    await infra.bus.ensureStream({ name: STREAMS.auth.name, subjects: STREAMS.auth.subjects });
  });
  afterAll(async () => {
    await infra?.close();
  });

  it('applies a burst in fewer transactions than events, in stream order, each in its own request context', async () => {
    let commits = 0;
    const metrics = new Registry();
    const consumers = createConsumers({
      infra,
      schema: 'example',
      table: processedEvents,
      service: 'example',
      metrics,
      afterCommit: () => {
        commits++;
      },
    });
    const events = Array.from({ length: 40 }, userDeleted);
    const mine = new Set(events.map((e) => e.id));
    await publish(events, (i) => `req-burst-${i}`);

    const handled: { id: string; tx: Tx; requestId: string | undefined }[] = [];
    const name = durable('burst');
    await consumers.on({ stream: 'auth', durable: name, filter: 'user.*.deleted' }, async (event, tx) => {
      // Earlier tests' events are in the stream too: look only at ours.
      if (!mine.has(event.id)) return;
      handled.push({ id: event.id, tx, requestId: currentRequestId() });
      await applyEffect(event, tx);
    });
    await vi.waitFor(async () => expect(await counts(events)).toEqual(events.map(() => 1)), { timeout: 15_000 });
    await vi.waitFor(() => expect(commits).toBeGreaterThan(0));

    expect(handled.map((h) => h.id)).toEqual(events.map((e) => e.id));
    expect(handled.map((h) => h.requestId)).toEqual(events.map((_, i) => `req-burst-${i}`));
    const transactions = new Set(handled.map((h) => h.tx)).size;
    expect(transactions).toBeLessThan(events.length);
    // afterCommit once per committed transaction, not once per event.
    expect(commits).toBeLessThan(events.length);

    const text = await metrics.metrics();
    expect(text).toMatch(new RegExp(`consumer_batch_events_count\\{durable="${name}"\\} [1-9]`));
    expect(text).toMatch(new RegExp(`consumer_handle_seconds_count\\{durable="${name}"\\} ([4-9]\\d|\\d{3,})`));
    await consumers.stop();
  });

  it('lets a poison event in the middle of a batch fail alone while the others commit once', async () => {
    const consumers = createConsumers({ infra, schema: 'example', table: processedEvents, service: 'example' });
    const events = Array.from({ length: 21 }, userDeleted);
    const poison = events[10]!;
    const mine = new Set(events.map((e) => e.id));
    const name = durable('poison');
    const deadLettered: unknown[] = [];
    const sub = infra.bus.subscribe(`deadletter.${name}`, (m) => {
      deadLettered.push(m.data);
    });
    await publish(events);
    const txOf = new Map<string, Tx[]>();
    const poisonDeliveries: number[] = [];
    await consumers.on(
      { stream: 'auth', durable: name, filter: 'user.*.deleted', maxDeliver: 2, backoffMs: [50] },
      async (event, tx, delivery: DeliveredEvent) => {
        if (!mine.has(event.id)) return;
        txOf.set(event.id, [...(txOf.get(event.id) ?? []), tx]);
        await applyEffect(event, tx);
        if (event.id === poison.id) {
          poisonDeliveries.push(delivery.deliveryCount);
          throw new Error('poison');
        }
      },
    );
    await vi.waitFor(() => expect(deadLettered).toHaveLength(1), { timeout: 15_000 });

    expect(await counts(events)).toEqual(events.map((e) => (e.id === poison.id ? 0 : 1)));
    // Tried in its batch and alone on the first delivery, alone again on the second, then dead-lettered.
    expect([...new Set(poisonDeliveries)]).toEqual([1, 2]);
    const recorded = await infra.db.db
      .select({ eventId: processedEvents.eventId })
      .from(processedEvents)
      .where(eq(processedEvents.consumer, name));
    expect(
      recorded
        .map((r) => r.eventId)
        .filter((id) => mine.has(id))
        .sort(),
    ).toEqual(
      events
        .filter((e) => e.id !== poison.id)
        .map((e) => e.id)
        .sort(),
    );
    // The batch holding the poison event was rolled back and its other events applied one by one.
    const retriedAlone = [...txOf].filter(([id, txs]) => id !== poison.id && txs.length > 1);
    expect(retriedAlone.length).toBeGreaterThan(0);
    sub.unsubscribe();
    await consumers.stop();
  });

  it('skips events processed before, also inside a batch', async () => {
    const consumers = createConsumers({ infra, schema: 'example', table: processedEvents, service: 'example' });
    const events = Array.from({ length: 12 }, userDeleted);
    const mine = new Set(events.map((e) => e.id));
    const name = durable('dup');
    // Two of them were applied by an earlier delivery (e.g. before a crash that lost the ack).
    const before = [events[0]!, events[6]!];
    await infra.db.db.insert(processedEvents).values(before.map((e) => ({ consumer: name, eventId: e.id })));
    await publish(events);
    const handled: string[] = [];
    await consumers.on({ stream: 'auth', durable: name, filter: 'user.*.deleted' }, async (event, tx) => {
      if (!mine.has(event.id)) return;
      handled.push(event.id);
      await applyEffect(event, tx);
    });
    const fresh = events.filter((e) => !before.includes(e));
    await vi.waitFor(async () => expect(await counts(fresh)).toEqual(fresh.map(() => 1)), { timeout: 15_000 });
    const last = userDeleted();
    mine.add(last.id);
    await publish([last]);
    await vi.waitFor(async () => expect(await counts([last])).toEqual([1]), { timeout: 15_000 });

    expect(await counts(before)).toEqual([0, 0]);
    expect(handled).toEqual([...fresh, last].map((e) => e.id));
    await consumers.stop();
  });

  it('keeps events waiting in a long batch from reaching the ack deadline', async () => {
    const metrics = new Registry();
    const consumers = createConsumers({
      infra,
      schema: 'example',
      table: processedEvents,
      service: 'example',
      metrics,
    });
    const events = Array.from({ length: 12 }, userDeleted);
    const name = durable('slow');
    const handle = await consumers.on(
      { stream: 'auth', durable: name, filter: 'user.*.deleted', ackWaitMs: 300, deliverPolicy: 'new' },
      async (event, tx) => {
        // A dozen of these make a batch last longer than the ack wait.
        await new Promise((r) => setTimeout(r, 60));
        await applyEffect(event, tx);
      },
    );
    await publish(events);
    await vi.waitFor(async () => expect(await counts(events)).toEqual(events.map(() => 1)), { timeout: 15_000 });
    await vi.waitFor(async () => expect(await handle.pending()).toBe(0), { timeout: 15_000 });
    // A redelivery would have been queued behind the batch: one more event, applied after it, flushes the queue.
    const sentinel = userDeleted();
    await publish([sentinel]);
    await vi.waitFor(async () => expect(await counts([sentinel])).toEqual([1]), { timeout: 15_000 });
    // Every delivery is counted, applied or skipped: an event whose ack deadline passed would have come twice.
    const text = await metrics.metrics();
    expect(text).toMatch(new RegExp(`consumer_handle_seconds_count\\{durable="${name}"\\} 13\\n`));
    await consumers.stop();
  });

  it('honours a caller’s own concurrency: 1 applies one event per transaction', async () => {
    const consumers = createConsumers({ infra, schema: 'example', table: processedEvents, service: 'example' });
    const events = Array.from({ length: 8 }, userDeleted);
    const mine = new Set(events.map((e) => e.id));
    await publish(events);
    const handled: { id: string; tx: Tx }[] = [];
    await consumers.on(
      { stream: 'auth', durable: durable('serial'), filter: 'user.*.deleted', concurrency: 1 },
      async (event, tx) => {
        if (!mine.has(event.id)) return;
        handled.push({ id: event.id, tx });
        await applyEffect(event, tx);
      },
    );
    await vi.waitFor(async () => expect(await counts(events)).toEqual(events.map(() => 1)), { timeout: 15_000 });
    expect(handled.map((h) => h.id)).toEqual(events.map((e) => e.id));
    expect(new Set(handled.map((h) => h.tx)).size).toBe(events.length);
    await consumers.stop();
  });

  it('has the bus call handlers in stream order with several in flight', async () => {
    const events = Array.from({ length: 30 }, userDeleted);
    const mine = new Set(events.map((e) => e.id));
    await publish(events);
    const called: string[] = [];
    let inFlight = 0;
    let peak = 0;
    const handle = await infra.bus.consume(
      { stream: 'auth', durable: durable('order'), filter: 'user.*.deleted', concurrency: 8 },
      async (d) => {
        if (!mine.has(d.event.id)) return;
        called.push(d.event.id); // before any await: the call order is the order handlers started
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      },
    );
    await vi.waitFor(() => expect(called).toHaveLength(events.length), { timeout: 15_000 });
    expect(called).toEqual(events.map((e) => e.id));
    expect(peak).toBeGreaterThan(1);
    await handle.stop();
  });
});
