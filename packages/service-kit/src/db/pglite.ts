/**
 * DatabaseHandle on PGlite (Postgres compiled to WASM) for the embedded
 * standalone mode: no server, data in memory or under a directory. One
 * PGlite instance can be shared by every service of the process (each in its
 * own schema); a shared instance is closed by its owner, not by the handle.
 */
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import type { DatabaseHandle, Db } from './database';
import { applyMigrations } from './migrate';
import { executeRows } from './rows';

export interface PgliteDatabaseOptions {
  /** A PGlite shared with other services (closed by its owner). */
  pglite?: PGlite;
  /** Data directory when no instance is passed (unset: in memory). */
  dataDir?: string;
}

// One PGlite is one connection, so advisory locks would not exclude anything:
// services sharing an instance migrate one after the other instead.
const migrationQueues = new WeakMap<PGlite, Promise<unknown>>();

function serialised<T>(pg: PGlite, fn: () => Promise<T>): Promise<T> {
  const prev = migrationQueues.get(pg) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  migrationQueues.set(
    pg,
    next.catch(() => undefined),
  );
  return next;
}

export async function createPgliteDatabase(opts: PgliteDatabaseOptions = {}): Promise<DatabaseHandle> {
  const owned = !opts.pglite;
  const pg = opts.pglite ?? (await PGlite.create(opts.dataDir));
  const db = drizzle({ client: pg }) as unknown as Db;
  let closed = false;

  return {
    kind: 'pglite',
    db,
    rows: (query, on) => executeRows(db, query, on),
    migrate: (m) => serialised(pg, () => applyMigrations(db, m)),
    async ping() {
      if (closed || pg.closed) throw new Error('database closed');
      await db.execute(sql`select 1`);
    },
    async close() {
      closed = true;
      if (owned && !pg.closed) await pg.close();
    },
  };
}
