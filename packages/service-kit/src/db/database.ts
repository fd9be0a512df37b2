/**
 * Database handle: drizzle on postgres.js (connected) or on PGlite (embedded
 * standalone mode), behind one small interface so repositories are the same
 * for both. Only repositories import drizzle.
 */
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';

// biome-ignore lint/suspicious/noExplicitAny: drizzle's schema generic is erased at this boundary on purpose
export type Db = PgDatabase<PgQueryResultHKT, any>;
/** The transaction handle drizzle passes into `db.transaction`; use only it inside the callback. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface DatabaseHandle {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Db;
  /** Raw SQL returning plain row objects, the same for both drivers. */
  rows<T = Record<string, unknown>>(query: SQL, on?: DbOrTx): Promise<T[]>;
  /**
   * Applies a service's drizzle-kit migrations into its own schema, holding a
   * Postgres advisory lock so concurrent replicas migrate once. Idempotent.
   */
  migrate(opts: { schema: string; migrationsFolder: string }): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
