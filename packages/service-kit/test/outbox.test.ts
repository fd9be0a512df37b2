/**
 * The outbox relay against the real Postgres and NATS: publishes right after
 * commit, survives crashes on either side of the publish, and never skips a
 * row committed out of id order.
 */
import { fileURLToPath } from 'node:url';
import { type AnyEventEnvelope, type EventHeaders, STREAMS } from '@parley/contracts';
import { eq, sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ConsumerHandle } from '../src/bus/bus';
import { withRequestContext } from '../src/context';
import { newId } from '../src/ids';
import { createOutbox, type Outbox } from '../src/outbox/outbox';
import { createTestInfra, type TestInfra } from '../src/testing/infra';
import { requireServers } from '../src/testing/servers';
import { outbox as outboxTable } from './example-service/db/schema';

await requireServers(['postgres', 'nats']);

const migrationsFolder = fileURLToPath(new URL('./example-service/drizzle', import.meta.url));
const NEVER = 3_600_000; // a sweep interval no test waits for

describe('outbox relay (Postgres + NATS)', () => {
  let infra: TestInfra;
  let collector: ConsumerHandle;
  const received: { event: AnyEventEnvelope; headers: EventHeaders; subject: string }[] = [];
  const relays: Outbox[] = [];

  const relay = (opts: { sweepIntervalMs?: number; metrics?: Registry } = {}) => {
    const o = createOutbox({
      infra,
      schema: 'example',
      producer: 'auth',
      table: outboxTable,
      sweepIntervalMs: opts.sweepIntervalMs ?? NEVER,
      retryBackoffMs: { initial: 20, max: 200 },
      metrics: opts.metrics,
    });
    relays.push(o);
    return o;
  };
  const userDeleted = (userId = newId()) => ({ userId, deletedAt: new Date().toISOString() });
  const countOf = (id: string) => received.filter((r) => r.event.id === id).length;
  const arrived = (...ids: string[]) =>
    vi.waitFor(
      () => {
        for (const id of ids) expect(countOf(id)).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 20 },
    );
  /** Publishes a marker through a fresh relay and waits for it: everything published before it was delivered. */
  const settle = async () => {
    const o = relay();
    await o.start();
    const marker = await o.transaction((_tx, emit) => emit('user.deleted', userDeleted()));
    await arrived(marker.id);
    await o.stop();
  };

  beforeAll(async () => {
    infra = await createTestInfra({ service: 'outbox' });
    await infra.db.migrate({ schema: 'example', migrationsFolder });
    await infra.bus.ensureStream({ name: STREAMS.auth.name, subjects: STREAMS.auth.subjects });
    collector = await infra.bus.consume(
      { stream: 'auth', durable: 'test-outbox-collector', filter: 'user.*.deleted' },
      async (msg) => {
        received.push({ event: msg.event, headers: msg.headers, subject: msg.subject });
      },
    );
  });

  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await collector?.stop();
    await infra?.close();
  });

  it('publishes right after commit, without waiting for the sweep', async () => {
    const metrics = new Registry();
    const o = relay({ metrics });
    await o.start();
    const event = await withRequestContext({ requestId: 'req-outbox-1' }, () =>
      o.transaction((_tx, emit) => emit('user.deleted', userDeleted())),
    );
    await arrived(event.id);
    const got = received.find((r) => r.event.id === event.id)!;
    expect(got.subject).toBe(`user.${event.data.userId}.deleted`);
    expect(got.event).toEqual(event);
    expect(got.headers.requestId).toBe('req-outbox-1');
    await vi.waitFor(async () => expect(await o.backlog()).toBe(0));
    const [row] = await infra.db.db.select().from(outboxTable).where(eq(outboxTable.eventId, event.id));
    expect(row!.publishedAt).toBeInstanceOf(Date);
    // Stored as JSON objects (not JSON strings), so SQL tooling can read them too.
    const [kinds] = await infra.db.rows<{ payload: string; headers: string }>(
      sql`select jsonb_typeof(payload) as payload, jsonb_typeof(headers) as headers from example.outbox where event_id = ${event.id}`,
    );
    expect(kinds).toEqual({ payload: 'object', headers: 'object' });
    expect(await metrics.getSingleMetricAsString('outbox_published_total')).toMatch(
      /outbox_published_total\{producer="auth"\} [1-9]/,
    );
    expect(await metrics.getSingleMetricAsString('outbox_backlog')).toMatch(/outbox_backlog\{producer="auth"\} 0/);
    await o.stop();
  });

  it('publishes nothing when the transaction rolls back', async () => {
    const o = relay();
    await o.start();
    let rolledBack: AnyEventEnvelope | undefined;
    await expect(
      o.transaction(async (_tx, emit) => {
        rolledBack = await emit('user.deleted', userDeleted());
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await settle();
    expect(countOf(rolledBack!.id)).toBe(0);
    await o.stop();
  });

  it('rejects an event whose data breaks the contract, writing nothing', async () => {
    const o = relay();
    const before = await o.backlog();
    await expect(
      o.transaction((_tx, emit) => emit('user.deleted', { userId: 'not-a-uuid', deletedAt: 'yesterday' })),
    ).rejects.toThrow(/invalid user.deleted event/);
    expect(await o.backlog()).toBe(before);
  });

  it('publishes rows committed before a crash when a new relay starts', async () => {
    // The first relay "crashed": its process committed the events but never published them.
    const crashed = relay();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = await crashed.transaction((_tx, emit) => emit('user.deleted', userDeleted()));
      ids.push(e.id);
    }
    expect(await crashed.backlog()).toBe(3);

    const restarted = relay();
    await restarted.start();
    await arrived(...ids);
    await vi.waitFor(async () => expect(await restarted.backlog()).toBe(0));
    await settle();
    for (const id of ids) expect(countOf(id)).toBe(1);
    await restarted.stop();
  });

  it('de-duplicates a publish repeated after a crash between publish and marking', async () => {
    const crashed = relay();
    const event = await crashed.transaction((_tx, emit) => emit('user.deleted', userDeleted()));
    // What the crashed relay did: published the row, then died before marking it published.
    const [row] = await infra.db.db.select().from(outboxTable).where(eq(outboxTable.eventId, event.id));
    await infra.bus.publishDurable(row!.subject, row!.payload, { headers: row!.headers });
    await arrived(event.id);
    expect(await crashed.backlog()).toBe(1);

    const restarted = relay();
    await restarted.start(); // publishes the unmarked row again, with the same Nats-Msg-Id
    await vi.waitFor(async () => expect(await restarted.backlog()).toBe(0));
    await settle();
    expect(countOf(event.id)).toBe(1);
    await restarted.stop();
  });

  it('publishes both rows when the higher id commits first', async () => {
    const o = relay();
    await o.start();
    let releaseFirst!: () => void;
    const firstMayCommit = new Promise<void>((r) => {
      releaseFirst = r;
    });
    let firstWritten!: () => void;
    const firstHasRow = new Promise<void>((r) => {
      firstWritten = r;
    });

    const first = o.transaction(async (_tx, emit) => {
      const e = await emit('user.deleted', userDeleted());
      firstWritten();
      await firstMayCommit;
      return e;
    });
    await firstHasRow;
    const second = await o.transaction((_tx, emit) => emit('user.deleted', userDeleted()));
    await arrived(second.id); // the later row is out while the earlier one is still uncommitted
    releaseFirst();
    const firstEvent = await first;

    const rows = await infra.db.rows<{ event_id: string; id: string }>(
      sql`select event_id, id from example.outbox where event_id in (${firstEvent.id}, ${second.id})`,
    );
    const idOf = (eventId: string) => Number(rows.find((r) => r.event_id === eventId)!.id);
    expect(idOf(firstEvent.id)).toBeLessThan(idOf(second.id));

    await arrived(firstEvent.id);
    await o.stop();
  });

  it('add() writes in a transaction the caller owns, published after kick()', async () => {
    const o = relay();
    await o.start();
    const event = await infra.db.db.transaction((tx) => o.add(tx, 'user.deleted', userDeleted()));
    o.kick();
    await arrived(event.id);
    await o.stop();
  });

  it('keeps the events of one subject in commit order', async () => {
    const o = relay();
    await o.start();
    const userId = newId();
    const ids = await o.transaction(async (_tx, emit) => {
      const out: string[] = [];
      for (let i = 0; i < 5; i++) out.push((await emit('user.deleted', userDeleted(userId))).id);
      // Events of other subjects in between must not hold them up or reorder them.
      await emit('user.deleted', userDeleted());
      return out;
    });
    await arrived(...ids);
    const order = received.filter((r) => ids.includes(r.event.id)).map((r) => r.event.id);
    expect(order).toEqual(ids);
    await o.stop();
  });

  it('two relays running together publish every row once between them', async () => {
    const writer = relay(); // not started: rows pile up as after an outage
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      ids.push((await writer.transaction((_tx, emit) => emit('user.deleted', userDeleted()))).id);
    }
    const registries = [new Registry(), new Registry()];
    const [a, b] = registries.map((metrics) =>
      createOutbox({
        infra,
        schema: 'example',
        producer: 'auth',
        table: outboxTable,
        batchSize: 5,
        sweepIntervalMs: NEVER,
        metrics,
      }),
    ) as [Outbox, Outbox];
    relays.push(a, b);
    await Promise.all([a.start(), b.start()]);
    await arrived(...ids);
    await vi.waitFor(async () => expect(await a.backlog()).toBe(0));
    await settle();
    for (const id of ids) expect(countOf(id)).toBe(1);
    // Each row was claimed by one relay only (SKIP LOCKED), not merely de-duplicated by the stream.
    const published = await Promise.all(
      registries.map(async (r) => (await r.getSingleMetric('outbox_published_total')!.get()).values[0]?.value ?? 0),
    );
    expect(published[0]! + published[1]!).toBe(ids.length);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('deletes published rows once they are older than the retention', async () => {
    const o = createOutbox({
      infra,
      schema: 'example',
      producer: 'auth',
      table: outboxTable,
      sweepIntervalMs: NEVER,
      retainPublishedMs: 1,
    });
    relays.push(o);
    await o.start();
    const first = await o.transaction((_tx, emit) => emit('user.deleted', userDeleted()));
    await arrived(first.id);
    // Each relay round ends with the clean-up; a later event triggers another round.
    const second = await o.transaction((_tx, emit) => emit('user.deleted', userDeleted()));
    await arrived(second.id);
    await vi.waitFor(async () => {
      const rows = await infra.db.rows(sql`select 1 from example.outbox where event_id = ${first.id}`);
      expect(rows).toEqual([]);
    });
    await o.stop();
  });

  it('keeps retrying while the bus refuses, and publishes once it accepts', async () => {
    let refuse = true;
    const flaky = {
      ...infra,
      bus: {
        ...infra.bus,
        ensureStream: infra.bus.ensureStream.bind(infra.bus),
        publishDurable: async (...args: Parameters<TestInfra['bus']['publishDurable']>) => {
          if (refuse) throw new Error('nats: timeout');
          return infra.bus.publishDurable(...args);
        },
      },
    };
    const o = createOutbox({
      infra: flaky,
      schema: 'example',
      producer: 'auth',
      table: outboxTable,
      sweepIntervalMs: NEVER,
      retryBackoffMs: { initial: 10, max: 50 },
    });
    relays.push(o);
    await o.start();
    const event = await o.transaction((_tx, emit) => emit('user.deleted', userDeleted()));
    // Let it fail a few rounds; the row must stay unpublished, not be skipped.
    await new Promise((r) => setTimeout(r, 200));
    expect(await o.backlog()).toBeGreaterThan(0);
    expect(countOf(event.id)).toBe(0);
    refuse = false;
    await arrived(event.id);
    await vi.waitFor(async () => expect(await o.backlog()).toBe(0));
    await o.stop();
  });
});
