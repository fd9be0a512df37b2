import type { SQL } from 'drizzle-orm';
import type { Db, DbOrTx } from './database';

/** Runs raw SQL and returns plain rows whatever the driver (postgres.js gives an array, PGlite `{ rows }`). */
export async function executeRows<T>(db: Db, query: SQL, on?: DbOrTx): Promise<T[]> {
  const res = (await (on ?? db).execute(query)) as unknown;
  if (Array.isArray(res)) return [...res] as T[];
  return ((res as { rows?: T[] }).rows ?? []) as T[];
}
