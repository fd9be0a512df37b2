/**
 * Applies a service's drizzle-kit migrations with drizzle's own migrator
 * (same bookkeeping table format, so `drizzle-kit` tooling understands it),
 * with two adjustments:
 * - the bookkeeping table lives in the service's own schema
 *   (`<schema>.__migrations`), so services never share migration state;
 * - drizzle-kit writes `CREATE SCHEMA "x";` for a pgSchema, which fails once
 *   the migrator has created that schema for its table; it is applied as
 *   `CREATE SCHEMA IF NOT EXISTS`.
 * The caller holds the cross-replica lock (see postgres.ts / pglite.ts).
 */
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Db } from './database';

export interface MigrateOptions {
  schema: string;
  migrationsFolder: string;
}

export const MIGRATIONS_TABLE = '__migrations';

const SCHEMA_NAME_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const CREATE_SCHEMA_RE = /^(\s*CREATE\s+SCHEMA\s+)(?!IF\s+NOT\s+EXISTS)/i;

export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME_RE.test(schema)) throw new Error(`invalid schema name: ${schema}`);
}

/** Key of the advisory lock that serialises migrations of one schema. */
export function migrationLockKey(schema: string): string {
  return `parley-migrate:${schema}`;
}

export async function applyMigrations(db: Db, opts: MigrateOptions): Promise<void> {
  assertSchemaName(opts.schema);
  const migrations = readMigrationFiles({ migrationsFolder: opts.migrationsFolder }).map((m) => ({
    ...m,
    sql: [
      // Index builds on big tables may outlast the pool's statement timeout.
      'SET LOCAL statement_timeout = 0',
      ...m.sql.map((stmt) => stmt.replace(CREATE_SCHEMA_RE, '$1IF NOT EXISTS ')),
    ],
  }));
  const session = db._.session as unknown as Parameters<PgDialect['migrate']>[1];
  await new PgDialect().migrate(migrations, session, {
    migrationsFolder: opts.migrationsFolder,
    migrationsSchema: opts.schema,
    migrationsTable: MIGRATIONS_TABLE,
  });
}
