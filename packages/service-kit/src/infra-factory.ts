/**
 * Builds the infrastructure handles of a service from config: the real
 * servers when their URL is set, embedded stand-ins otherwise (PGlite,
 * in-memory bus and key-value), so one codebase runs standalone and
 * connected. Handles passed in to be shared (standalone: one PGlite, one
 * memory bus, one memory kv for every service of the process) belong to the
 * caller and are not closed by `closeInfra`.
 */
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pino, { type Logger } from 'pino';
import type { Bus } from './bus/bus';
import { createMemoryBus } from './bus/memory-bus';
import { createNatsBus } from './bus/nats-bus';
import type { DatabaseHandle } from './db/database';
import { createPgliteDatabase } from './db/pglite';
import { createPostgresDatabase } from './db/postgres';
import type { Infra } from './infra';
import type { KeyValue } from './kv/key-value';
import { createMemoryKv } from './kv/memory-kv';
import { createRedisKv } from './kv/redis-kv';

export interface InfraConfig {
  /** Used for the pool's application_name, the bus connection name and the logger name. */
  service: string;
  /** postgres://... (unset: PGlite). */
  databaseUrl?: string;
  /** Share one embedded PGlite between services (standalone). */
  pglite?: PGlite;
  /** PGlite directory when no instance is passed (unset: in memory). */
  dataDir?: string;
  /** nats://... (unset: in-memory bus). */
  natsUrl?: string;
  /** Share one in-memory bus (standalone). */
  memoryBus?: Bus;
  /** redis://... (unset: in-memory key-value). */
  redisUrl?: string;
  /** Share one in-memory kv (standalone). */
  memoryKv?: KeyValue;
  /** Subject and stream prefix (default `parley`). */
  busPrefix?: string;
  /** Key prefix (default `parley:`). */
  kvPrefix?: string;
  /** JetStream replicas of the streams this service provisions (default 1). */
  streamReplicas?: number;
  /** Postgres pool size (default 10). */
  dbPoolMax?: number;
  /** Prepared statements (default true; false behind PgBouncer in transaction mode). */
  dbPrepare?: boolean;
  /** Pipeline one event-loop turn's Redis commands (REDIS_AUTO_PIPELINING). */
  redisAutoPipelining?: boolean;
  dbStatementTimeoutMs?: number;
  dbIdleInTxTimeoutMs?: number;
  logger?: Logger;
}

/** What closeInfra closes: only the handles createInfra made itself. */
const ownedClosers = new WeakMap<Infra, (() => Promise<void>)[]>();

/** The infra settings of a service's validated config (BaseServiceConfig variables). */
export function infraConfigOf(
  config: {
    DATABASE_URL?: string;
    NATS_URL?: string;
    REDIS_URL?: string;
    BUS_PREFIX: string;
    KV_PREFIX: string;
    DATA_DIR: string;
    DB_POOL_MAX: number;
    DB_PREPARE: boolean;
    STREAM_REPLICAS: number;
    REDIS_AUTO_PIPELINING?: boolean;
  },
  service: string,
): InfraConfig {
  return {
    service,
    databaseUrl: config.DATABASE_URL,
    natsUrl: config.NATS_URL,
    redisUrl: config.REDIS_URL,
    busPrefix: config.BUS_PREFIX,
    kvPrefix: config.KV_PREFIX,
    // Embedded mode on its own: a PGlite directory of this service only.
    dataDir: config.DATABASE_URL ? undefined : join(config.DATA_DIR, service),
    dbPoolMax: config.DB_POOL_MAX,
    dbPrepare: config.DB_PREPARE,
    redisAutoPipelining: config.REDIS_AUTO_PIPELINING,
    streamReplicas: config.STREAM_REPLICAS,
  };
}

export async function createInfra(cfg: InfraConfig): Promise<Infra> {
  const logger = cfg.logger ?? pino({ name: cfg.service });
  const closers: (() => Promise<void>)[] = [];
  try {
    let db: DatabaseHandle;
    if (cfg.databaseUrl) {
      db = await createPostgresDatabase({
        url: cfg.databaseUrl,
        applicationName: cfg.service,
        poolMax: cfg.dbPoolMax,
        prepare: cfg.dbPrepare,
        statementTimeoutMs: cfg.dbStatementTimeoutMs,
        idleInTxTimeoutMs: cfg.dbIdleInTxTimeoutMs,
      });
    } else {
      db = await createPgliteDatabase({ pglite: cfg.pglite, dataDir: cfg.dataDir });
    }
    // A PGlite handle never closes a shared instance itself, so closing it is always safe.
    closers.push(() => db.close());

    const busPrefix = cfg.busPrefix ?? 'parley';
    let bus: Bus;
    if (cfg.natsUrl) {
      bus = await createNatsBus({
        url: cfg.natsUrl,
        prefix: busPrefix,
        name: cfg.service,
        logger,
        streamReplicas: cfg.streamReplicas ?? 1,
      });
      const owned = bus;
      closers.unshift(() => owned.close());
    } else if (cfg.memoryBus) {
      bus = cfg.memoryBus;
    } else {
      bus = createMemoryBus({ prefix: busPrefix, logger });
      const owned = bus;
      closers.unshift(() => owned.close());
    }

    const kvPrefix = cfg.kvPrefix ?? 'parley:';
    let kv: KeyValue;
    if (cfg.redisUrl) {
      kv = createRedisKv({ url: cfg.redisUrl, prefix: kvPrefix, logger, autoPipelining: cfg.redisAutoPipelining });
      const owned = kv;
      closers.push(() => owned.close());
    } else if (cfg.memoryKv) {
      kv = cfg.memoryKv;
    } else {
      kv = createMemoryKv({ prefix: kvPrefix });
      const owned = kv;
      closers.push(() => owned.close());
    }

    const infra: Infra = { db, bus, kv, logger };
    ownedClosers.set(infra, closers);
    return infra;
  } catch (err) {
    await runClosers(closers, logger);
    throw err;
  }
}

async function runClosers(closers: (() => Promise<void>)[], logger: Logger) {
  // Bus first (drains in-flight handlers that may still use the database), then SQL and Redis.
  for (const close of closers) {
    try {
      await close();
    } catch (err) {
      logger.warn({ err }, 'closing infrastructure failed');
    }
  }
}

/** Drains the bus, ends the SQL pool and quits Redis (only what createInfra created). */
export async function closeInfra(infra: Infra): Promise<void> {
  const closers = ownedClosers.get(infra) ?? [() => infra.bus.close(), () => infra.db.close(), () => infra.kv.close()];
  ownedClosers.delete(infra);
  await runClosers(closers, infra.logger);
}
