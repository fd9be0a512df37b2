/**
 * The send path's fixed statements as prepared statements.
 *
 * drizzle runs `db.execute(sql)` and unnamed builder queries with postgres.js
 * `prepare: false`, and postgres.js sends such a statement with parameters in
 * two round trips (Parse + Describe, wait for the parameter types, then Bind +
 * Execute), with the server parsing and planning it every time; drizzle also
 * rebuilds the SQL text on every call. A statement made here is built once
 * (with placeholders), parsed once per pooled connection, and then costs one
 * Bind + Execute round trip. `DB_PREPARE=false` (PgBouncer in transaction
 * mode) still turns preparing off in the driver; on PGlite it runs like any
 * query.
 */
import type { DbOrTx } from '@parley/service-kit';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';

const dialect = new PgDialect();

export type Statement<P> = <T>(db: DbOrTx, params: P) => Promise<T[]>;

/** `query` uses `sql.placeholder(name)` for every value; `params` fills them. */
export function preparedStatement<P extends Record<string, unknown>>(name: string, query: SQL): Statement<P> {
  const built = dialect.sqlToQuery(query);
  return async <T>(db: DbOrTx, params: P): Promise<T[]> => {
    // A transaction has its own session (its connection): the prepared query
    // object is cheap to make; the statement itself is cached per connection
    // by postgres.js.
    const res = (await db._.session.prepareQuery(built, undefined, name, false).execute(params)) as unknown;
    if (Array.isArray(res)) return res as T[];
    return ((res as { rows?: T[] }).rows ?? []) as T[];
  };
}
