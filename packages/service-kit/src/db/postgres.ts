/**
 * DatabaseHandle on PostgreSQL: drizzle over a postgres.js pool with the
 * session limits PITFALLS asks for (statement and idle-in-transaction
 * timeouts, application name for pg_stat_activity), and prepared statements
 * switchable off for PgBouncer in transaction mode.
 */
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { DatabaseHandle, Db } from './database';
import { applyMigrations, assertSchemaName, migrationLockKey } from './migrate';
import { executeRows } from './rows';

export interface PostgresDatabaseOptions {
  url: string;
  /** Pool size (default 10; at least 2, migrations reserve one connection for the lock). */
  poolMax?: number;
  statementTimeoutMs?: number;
  idleInTxTimeoutMs?: number;
  applicationName?: string;
  /** Prepared statements (default true); false behind PgBouncer in transaction mode (DB_PREPARE=false). */
  prepare?: boolean;
  /** Seconds an idle pooled connection is kept (default 30). */
  idleTimeoutSec?: number;
  /** Seconds to wait for a connection (default 10). */
  connectTimeoutSec?: number;
}

export async function createPostgresDatabase(opts: PostgresDatabaseOptions): Promise<DatabaseHandle> {
  const poolMax = opts.poolMax ?? 10;
  if (!Number.isInteger(poolMax) || poolMax < 2) throw new Error('poolMax must be an integer >= 2');
  const client = postgres(opts.url, {
    max: poolMax,
    prepare: opts.prepare ?? true,
    idle_timeout: opts.idleTimeoutSec ?? 30,
    connect_timeout: opts.connectTimeoutSec ?? 10,
    onnotice: () => {},
    connection: {
      statement_timeout: opts.statementTimeoutMs ?? 15_000,
      idle_in_transaction_session_timeout: opts.idleInTxTimeoutMs ?? 30_000,
      application_name: (opts.applicationName ?? 'parley').slice(0, 63),
    },
  });
  const prepare = opts.prepare ?? true;
  const db = drizzle({ client: prepare ? preparingClient(client) : client }) as unknown as Db;

  return {
    kind: 'postgres',
    db,
    rows: (query, on) => executeRows(db, query, on),

    async migrate(m) {
      assertSchemaName(m.schema);
      // A session-level advisory lock on one reserved connection: replicas
      // starting together wait here and then find nothing left to apply. A
      // crashed holder's lock goes with its connection.
      const lockConn = await client.reserve();
      try {
        await lockConn`SET statement_timeout = 0`;
        await lockConn`SELECT pg_advisory_lock(hashtext(${migrationLockKey(m.schema)}))`;
        try {
          await applyMigrations(db, m);
        } finally {
          await lockConn`SELECT pg_advisory_unlock(hashtext(${migrationLockKey(m.schema)}))`;
          await lockConn`RESET statement_timeout`;
        }
      } finally {
        lockConn.release();
      }
    },

    async ping() {
      await db.execute(sql`select 1`);
    },

    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

type AnyFn = (...args: unknown[]) => unknown;

/**
 * drizzle runs every query it was not given a name for (`db.execute`, the
 * query builders) with postgres.js `prepare: false`: a statement with
 * parameters then costs two round trips (Parse + Describe, wait for the
 * parameter types, then Bind + Execute) and a parse and plan on the server,
 * every time. Behind this wrapper the pool's `prepare` setting decides
 * instead: postgres.js keeps each connection's statements by their text and
 * runs a known one in one round trip (and re-prepares a statement a
 * migration invalidated). Transactions and savepoints get wrapped clients
 * too. Queries without parameters keep the simple protocol.
 */
export function preparingClient<T extends object>(client: T): T {
  // The wrappers are made once per client: drizzle reads `unsafe` on every query.
  const wrapped = new Map<PropertyKey, AnyFn>();
  const wrap = (prop: PropertyKey, fn: AnyFn): AnyFn | undefined => {
    if (prop === 'unsafe') {
      return (query, args, options) =>
        Array.isArray(args) || args === undefined
          ? fn(query, args ?? [], { ...(options as object), prepare: true })
          : fn(query, [], { ...(args as object), prepare: true });
    }
    if (prop === 'begin' || prop === 'savepoint') {
      return (...args) => {
        const body = args.pop();
        if (typeof body !== 'function') return fn(...args, body);
        return fn(...args, (scoped: object) => (body as AnyFn)(preparingClient(scoped)));
      };
    }
    return undefined;
  };
  return new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        fn = wrap(prop, value as AnyFn);
        if (!fn) return value;
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}
