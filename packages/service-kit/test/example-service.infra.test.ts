/**
 * The infrastructure the example service (and every service) is built on:
 * createInfra picks real servers or embedded stand-ins from config and
 * closeInfra closes only what it made; createTestInfra isolates a test file
 * and removes exactly what it created; the outbox and consumers work the
 * same on the embedded stand-ins (standalone mode).
 */
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { STREAMS } from '@parley/contracts';
import { eq, sql } from 'drizzle-orm';
import { connect } from 'nats';
import pino from 'pino';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createMemoryBus } from '../src/bus/memory-bus';
import { natsStreamName } from '../src/bus/nats-bus';
import { createConsumers } from '../src/consumers/consumers';
import { newId } from '../src/ids';
import { closeInfra, createInfra } from '../src/infra-factory';
import { createMemoryKv } from '../src/kv/memory-kv';
import { createOutbox } from '../src/outbox/outbox';
import { createTestInfra, uniqueTestPrefix } from '../src/testing/infra';
import { createTestDatabase, requireServers, testServers } from '../src/testing/servers';
import { outbox as outboxTable, processedEvents, profileUpdates } from './example-service/db/schema';

const migrationsFolder = fileURLToPath(new URL('./example-service/drizzle', import.meta.url));

describe('createInfra without URLs (embedded)', () => {
  it('runs on PGlite, the memory bus and the memory kv, and closes them', async () => {
    const infra = await createInfra({ service: 'embedded' });
    expect(infra.db.kind).toBe('pglite');
    await infra.db.ping();
    await infra.bus.ping();
    await infra.kv.set('k', 'v');
    expect(await infra.kv.get('k')).toBe('v');
    await closeInfra(infra);
    await expect(infra.db.ping()).rejects.toThrow();
    await expect(infra.kv.get('k')).rejects.toThrow();
  });

  it('shares the PGlite, bus and kv it is given, and leaves them open for their owner', async () => {
    const pglite = await PGlite.create();
    const memoryBus = createMemoryBus({ prefix: 'parley' });
    const memoryKv = createMemoryKv({ prefix: 'parley:' });
    try {
      const a = await createInfra({ service: 'a', pglite, memoryBus, memoryKv });
      const b = await createInfra({ service: 'b', pglite, memoryBus, memoryKv });
      await a.db.migrate({ schema: 'example', migrationsFolder });
      await a.kv.set('shared', 'yes');
      await closeInfra(a);
      expect(await b.db.rows(sql`select count(*)::int as n from example.profiles`)).toEqual([{ n: 0 }]);
      expect(await b.kv.get('shared')).toBe('yes');
      await b.bus.ping();
      await closeInfra(b);
      expect(pglite.closed).toBe(false);
      expect(await memoryKv.get('shared')).toBe('yes');
    } finally {
      await memoryBus.close();
      await pglite.close();
    }
  });

  it('carries an outbox event to an idempotent consumer on the embedded stand-ins', async () => {
    const infra = await createTestInfra({ service: 'standalone', real: false });
    try {
      await infra.db.migrate({ schema: 'example', migrationsFolder });
      const relay = createOutbox({ infra, schema: 'example', producer: 'example', table: outboxTable });
      const consumers = createConsumers({ infra, schema: 'example', table: processedEvents, service: 'example' });
      await consumers.on(
        { stream: 'auth', durable: 'example-user-updated', filter: 'user.*.updated' },
        async (event, tx) => {
          if (event.type !== 'user.updated') return;
          await tx.insert(profileUpdates).values({ userId: event.data.user.id, count: 1 });
        },
      );
      await relay.start();
      const userId = newId();
      const user = { id: userId, name: 'Ada', avatarUrl: null, statusText: null, createdAt: new Date().toISOString() };
      await relay.transaction((_tx, emit) => emit('user.updated', { user }));
      await vi.waitFor(
        async () => {
          const [row] = await infra.db.db.select().from(profileUpdates).where(eq(profileUpdates.userId, userId));
          expect(row?.count).toBe(1);
        },
        { timeout: 10_000 },
      );
      expect(await relay.backlog()).toBe(0);
      await consumers.stop();
      await relay.stop();
    } finally {
      await infra.close();
    }
  });
});

describe('createInfra with URLs (connected)', () => {
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern for the fixtures argument
  beforeAll(({}, suite) => requireServers(['postgres', 'nats', 'redis'], suite));
  const servers = testServers();

  it('connects to the real servers under its prefixes and closes them', async () => {
    const database = await createTestDatabase();
    const busPrefix = uniqueTestPrefix('infra');
    const kvPrefix = `test:${busPrefix}:`;
    try {
      const infra = await createInfra({
        service: 'infra-test',
        databaseUrl: database.url,
        natsUrl: servers.natsUrl,
        redisUrl: servers.redisUrl,
        busPrefix,
        kvPrefix,
        logger: pino({ level: 'silent' }),
      });
      expect(infra.db.kind).toBe('postgres');
      const [row] = await infra.db.rows<{ app: string }>(sql`select current_setting('application_name') as app`);
      expect(row!.app).toBe('infra-test');
      await infra.bus.ping();
      await infra.kv.set('k', 'v');
      const redis = new Redis(servers.redisUrl);
      expect(await redis.get(`${kvPrefix}k`)).toBe('v');
      await redis.del(`${kvPrefix}k`);
      redis.disconnect();
      await closeInfra(infra);
      await expect(infra.db.ping()).rejects.toThrow();
      await expect(infra.bus.ping()).rejects.toThrow();
    } finally {
      await database.drop();
    }
  });
});

describe('createTestInfra (real)', () => {
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern for the fixtures argument
  beforeAll(({}, suite) => requireServers(['postgres', 'nats', 'redis'], suite));
  const servers = testServers();

  it('removes its database, its streams and its keys on close, and nothing else', async () => {
    const infra = await createTestInfra({ service: 'cleanup' });
    const neighbour = await createTestInfra({ service: 'neighbour' });
    try {
      for (const i of [infra, neighbour]) {
        await i.bus.ensureStream({ name: STREAMS.auth.name, subjects: STREAMS.auth.subjects });
        await i.kv.set('k', 'v');
      }
      const dbName = new URL(infra.databaseUrl!).pathname.slice(1);
      await infra.close();

      const admin = postgres(servers.databaseUrl, { max: 1, onnotice: () => {} });
      const dbs = await admin`select datname from pg_database where datname = ${dbName}`;
      await admin.end();
      expect(dbs).toHaveLength(0);

      const nc = await connect({ servers: servers.natsUrl });
      const jsm = await nc.jetstreamManager();
      const names: string[] = [];
      for await (const s of jsm.streams.list()) names.push(s.config.name);
      await nc.close();
      expect(names).not.toContain(natsStreamName(infra.busPrefix, STREAMS.auth.name));
      expect(names).toContain(natsStreamName(neighbour.busPrefix, STREAMS.auth.name));

      const redis = new Redis(servers.redisUrl);
      expect(await redis.exists(`${infra.kvPrefix}k`)).toBe(0);
      expect(await redis.exists(`${neighbour.kvPrefix}k`)).toBe(1);
      redis.disconnect();
    } finally {
      await neighbour.close();
    }
  });
});
