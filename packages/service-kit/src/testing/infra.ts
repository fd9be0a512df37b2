/**
 * An isolated Infra per test file: a fresh database, a unique bus prefix
 * (subjects and streams) and a unique key prefix, on the real servers
 * (`real: true`, the default) or embedded (PGlite, memory bus, memory kv).
 * `close()` closes the handles and removes everything it created: the
 * database, the streams under its own prefix and the keys under its own
 * prefix, and nothing else on the shared servers.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import pino, { type Logger } from 'pino';
import { createMemoryBus } from '../bus/memory-bus';
import { createNatsBus } from '../bus/nats-bus';
import { createPgliteDatabase } from '../db/pglite';
import { createPostgresDatabase } from '../db/postgres';
import type { Infra } from '../infra';
import { createMemoryKv } from '../kv/memory-kv';
import { createRedisKv } from '../kv/redis-kv';
import { createTestDatabase, testServers } from './servers';

export interface TestInfra extends Infra {
  /** Subject/stream prefix of this infra's bus. */
  readonly busPrefix: string;
  /** Key prefix of this infra's key-value store. */
  readonly kvPrefix: string;
  /** URL of the fresh database (real mode). */
  readonly databaseUrl?: string;
  close(): Promise<void>;
}

export interface TestInfraOptions {
  /** Real servers (default) or embedded stand-ins. */
  real?: boolean;
  /** Service name: logger name and the database pool's application_name. */
  service: string;
  logger?: Logger;
}

/** A random prefix valid as a subject token, a stream name part and a key prefix. */
export function uniqueTestPrefix(label = 't'): string {
  return `${label.replace(/[^a-z0-9]/gi, '').slice(0, 12) || 't'}${randomBytes(5).toString('hex')}`;
}

/** Deletes the JetStream streams whose subjects all live under `<prefix>.`. */
export async function deleteStreamsWithPrefix(natsUrl: string, prefix: string): Promise<number> {
  const nc = await connect({ servers: natsUrl, timeout: 5000 });
  let deleted = 0;
  try {
    const jsm = await nc.jetstreamManager();
    for await (const info of jsm.streams.list()) {
      const subjects = info.config.subjects ?? [];
      if (subjects.length > 0 && subjects.every((s) => s.startsWith(`${prefix}.`))) {
        await jsm.streams.delete(info.config.name);
        deleted++;
      }
    }
  } finally {
    await nc.close();
  }
  return deleted;
}

/** Deletes every key under `prefix` (SCAN, never FLUSH). */
export async function deleteKeysWithPrefix(redisUrl: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('refusing to delete keys without a prefix');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

export async function createTestInfra(opts: TestInfraOptions): Promise<TestInfra> {
  const logger = opts.logger ?? pino({ name: opts.service, level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const busPrefix = uniqueTestPrefix(opts.service);
  const kvPrefix = `test:${busPrefix}:`;

  if (opts.real === false) {
    const db = await createPgliteDatabase();
    const bus = createMemoryBus({ prefix: busPrefix });
    const kv = createMemoryKv({ prefix: kvPrefix });
    return {
      db,
      bus,
      kv,
      logger,
      busPrefix,
      kvPrefix,
      async close() {
        await bus.close();
        await db.close();
        await kv.close();
      },
    };
  }

  const servers = testServers();
  const cleanups: (() => Promise<unknown>)[] = [];
  const runCleanups = async () => {
    const errors: unknown[] = [];
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'test infra cleanup failed');
  };
  try {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const db = await createPostgresDatabase({ url: database.url, applicationName: opts.service, poolMax: 5 });
    cleanups.push(() => db.close());
    cleanups.push(() => deleteStreamsWithPrefix(servers.natsUrl, busPrefix));
    const bus = await createNatsBus({ url: servers.natsUrl, prefix: busPrefix, name: opts.service, logger });
    cleanups.push(() => bus.close());
    cleanups.push(() => deleteKeysWithPrefix(servers.redisUrl, kvPrefix));
    const kv = createRedisKv({ url: servers.redisUrl, prefix: kvPrefix, logger });
    cleanups.push(() => kv.close());
    return {
      db,
      bus,
      kv,
      logger,
      busPrefix,
      kvPrefix,
      databaseUrl: database.url,
      close: runCleanups,
    };
  } catch (err) {
    await runCleanups().catch(() => {});
    throw err;
  }
}
