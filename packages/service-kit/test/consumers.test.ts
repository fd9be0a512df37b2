/**
 * Idempotent consumers against the real Postgres and NATS: an event applied
 * twice changes nothing the second time, a failed handler leaves no trace
 * and is applied on redelivery, handlers run in the event's request context.
 */
import { fileURLToPath } from 'node:url';
import { type AnyEventEnvelope, HEADERS, makeEvent, STREAMS } from '@parley/contracts';
import { eq, sql } from 'drizzle-orm';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { natsStreamName } from '../src/bus/nats-bus';
import { createConsumers } from '../src/consumers/consumers';
import { currentRequestId } from '../src/context';
import { newId } from '../src/ids';
import { createTestInfra, type TestInfra } from '../src/testing/infra';
import { requireServers, testServers } from '../src/testing/servers';
import { profileUpdates, processedEvents } from './example-service/db/schema';

await requireServers(['postgres', 'nats']);

const migrationsFolder = fileURLToPath(new URL('./example-service/drizzle', import.meta.url));

describe('idempotent consumers (Postgres + NATS)', () => {
  let infra: TestInfra;
  let nc: NatsConnection;

  const userDeleted = (userId = newId()) =>
    makeEvent('user.deleted', { userId, deletedAt: new Date().toISOString() }, { id: newId(), producer: 'auth' });

  /**
   * Publishes an envelope straight to JetStream with a fresh Nats-Msg-Id, as an
   * outbox re-publish after the stream's de-duplication window would: the
   * stream stores it again and the consumer receives the same event twice.
   */
  const publishAgainPastDedupWindow = async (event: AnyEventEnvelope, requestId?: string) => {
    const h = natsHeaders();
    h.set('Nats-Msg-Id', newId());
    if (requestId) h.set(HEADERS.requestId, requestId);
    const subject = `${infra.busPrefix}.user.${(event.data as { userId: string }).userId}.deleted`;
    await nc.jetstream().publish(subject, new TextEncoder().encode(JSON.stringify(event)), { headers: h });
  };

  /** The consumer's effect: one count per user, so a second apply would show as 2. */
  const countFor = async (userId: string) => {
    const [row] = await infra.db.db.select().from(profileUpdates).where(eq(profileUpdates.userId, userId));
    return row?.count ?? 0;
  };

  beforeAll(async () => {
    infra = await createTestInfra({ service: 'consumers' });
    await infra.db.migrate({ schema: 'example', migrationsFolder });
    await infra.bus.ensureStream({ name: STREAMS.auth.name, subjects: STREAMS.auth.subjects });
    nc = await connect({ servers: testServers().natsUrl });
  });
  afterAll(async () => {
    await nc?.close();
    await infra?.close();
  });

  it('applies an event delivered twice only once', async () => {
    const metrics = new Registry();
    const consumers = createConsumers({
      infra,
      schema: 'example',
      table: processedEvents,
      service: 'example',
      metrics,
    });
    const handled: string[] = [];
    await consumers.on({ stream: 'auth', durable: 'example-twice', filter: 'user.*.deleted' }, async (event, tx) => {
      handled.push(event.id);
      const { userId } = event.data as { userId: string };
      await tx
        .insert(profileUpdates)
        .values({ userId, count: 1 })
        .onConflictDoUpdate({ target: profileUpdates.userId, set: { count: sql`${profileUpdates.count} + 1` } });
    });

    // A plain consumer of the same events sees every delivery, proving the duplicate did arrive.
    const deliveries: string[] = [];
    await consumers.onEvent({ stream: 'auth', durable: 'example-twice-raw', filter: 'user.*.deleted' }, async (e) => {
      deliveries.push(e.id);
    });

    const event = userDeleted();
    await infra.bus.publishDurable(`user.${event.data.userId}.deleted`, event);
    await vi.waitFor(async () => expect(await countFor(event.data.userId)).toBe(1), { timeout: 10_000 });

    await publishAgainPastDedupWindow(event);
    await vi.waitFor(() => expect(deliveries.filter((id) => id === event.id)).toHaveLength(2), { timeout: 10_000 });
    // A later event on the same consumer proves the duplicate was delivered (stream order) before we look.
    const later = userDeleted();
    await infra.bus.publishDurable(`user.${later.data.userId}.deleted`, later);
    await vi.waitFor(async () => expect(await countFor(later.data.userId)).toBe(1), { timeout: 10_000 });

    expect(await countFor(event.data.userId)).toBe(1);
    expect(handled.filter((id) => id === event.id)).toHaveLength(1);
    const recorded = await infra.db.db.select().from(processedEvents).where(eq(processedEvents.eventId, event.id));
    expect(recorded.map((r) => r.consumer)).toEqual(['example-twice']);

    const text = await metrics.metrics();
    expect(text).toMatch(/consumer_handle_seconds_count\{durable="example-twice"\} [1-9]/);
    expect(text).toMatch(/consumer_pending\{durable="example-twice"\} 0/);
    await consumers.stop();
  });

  it('keeps nothing of a handler that failed, and applies the event on redelivery', async () => {
    const consumers = createConsumers({ infra, schema: 'example', table: processedEvents, service: 'example' });
    let attempts = 0;
    await consumers.on(
      { stream: 'auth', durable: 'example-retry', filter: 'user.*.deleted', backoffMs: [20], deliverPolicy: 'new' },
      async (event, tx, delivery) => {
        attempts++;
        const { userId } = event.data as { userId: string };
        await tx
          .insert(profileUpdates)
          .values({ userId, count: 1 })
          .onConflictDoUpdate({ target: profileUpdates.userId, set: { count: sql`${profileUpdates.count} + 1` } });
        if (delivery.deliveryCount === 1) throw new Error('transient failure after writing');
      },
    );
    const event = userDeleted();
    await infra.bus.publishDurable(`user.${event.data.userId}.deleted`, event);
    await vi.waitFor(async () => expect(await countFor(event.data.userId)).toBe(1), { timeout: 10_000 });
    expect(attempts).toBe(2);
    await consumers.stop();
  });

  it('runs handlers in the request context of the event, with and without a database', async () => {
    const consumers = createConsumers({ infra, schema: 'example', table: processedEvents, service: 'example' });
    const seen: { via: string; requestId: string | undefined }[] = [];
    await consumers.on(
      { stream: 'auth', durable: 'example-ctx-tx', filter: 'user.*.deleted', deliverPolicy: 'new' },
      async () => {
        seen.push({ via: 'on', requestId: currentRequestId() });
      },
    );
    await consumers.onEvent(
      { stream: 'auth', durable: 'example-ctx-plain', filter: 'user.*.deleted', deliverPolicy: 'new' },
      async () => {
        seen.push({ via: 'onEvent', requestId: currentRequestId() });
      },
    );
    const event = userDeleted();
    await infra.bus.publishDurable(`user.${event.data.userId}.deleted`, event, {
      headers: { requestId: 'req-consumer-7' },
    });
    await vi.waitFor(() => expect(seen).toHaveLength(2), { timeout: 10_000 });
    expect(seen).toEqual(
      expect.arrayContaining([
        { via: 'on', requestId: 'req-consumer-7' },
        { via: 'onEvent', requestId: 'req-consumer-7' },
      ]),
    );
    await consumers.stop();
  });

  it('refuses a second consumer with the same durable name in one process', async () => {
    const consumers = createConsumers({ infra, schema: 'example', table: processedEvents, service: 'example' });
    await consumers.onEvent({ stream: 'auth', durable: 'example-dup', filter: 'user.*.deleted' }, async () => {});
    await expect(
      consumers.onEvent({ stream: 'auth', durable: 'example-dup', filter: 'user.*.deleted' }, async () => {}),
    ).rejects.toThrow(/already running/);
    await consumers.stop();
  });

  it('stores the stream under its own prefix only', async () => {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(natsStreamName(infra.busPrefix, STREAMS.auth.name));
    expect(info.config.subjects.every((s) => s.startsWith(`${infra.busPrefix}.`))).toBe(true);
  });
});
