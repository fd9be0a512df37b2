import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createPgliteDatabase } from '../src/db/pglite';
import { profiles } from './example-service/db/schema';

const migrationsFolder = fileURLToPath(new URL('./example-service/drizzle', import.meta.url));

describe('pglite database handle', () => {
  it('applies the same drizzle-kit migrations as Postgres, once', async () => {
    const db = await createPgliteDatabase();
    try {
      await Promise.all([
        db.migrate({ schema: 'example', migrationsFolder }),
        db.migrate({ schema: 'example', migrationsFolder }),
      ]);
      await db.migrate({ schema: 'example', migrationsFolder });
      expect(await db.rows(sql`select hash from example.__migrations`)).toHaveLength(1);
      const id = '0190f5f0-0000-7000-8000-000000000002';
      await db.db.insert(profiles).values({ userId: id, name: 'embedded' });
      expect(await db.rows<{ name: string }>(sql`select name from example.profiles`)).toEqual([{ name: 'embedded' }]);
      await db.ping();
    } finally {
      await db.close();
    }
    await expect(db.ping()).rejects.toThrow();
  });

  it('shares one PGlite between services and leaves it open for its owner', async () => {
    const pglite = await PGlite.create();
    try {
      const a = await createPgliteDatabase({ pglite });
      const b = await createPgliteDatabase({ pglite });
      await a.migrate({ schema: 'example', migrationsFolder });
      expect(await b.rows<{ n: number }>(sql`select count(*)::int as n from example.profiles`)).toEqual([{ n: 0 }]);
      await a.close();
      expect(pglite.closed).toBe(false);
      expect(await b.rows<{ one: number }>(sql`select 1 as one`)).toEqual([{ one: 1 }]);
      await b.close();
    } finally {
      await pglite.close();
    }
  });

  it('rolls back a transaction that throws', async () => {
    const db = await createPgliteDatabase();
    try {
      await db.migrate({ schema: 'example', migrationsFolder });
      const id = '0190f5f0-0000-7000-8000-000000000003';
      await expect(
        db.db.transaction(async (tx) => {
          await tx.insert(profiles).values({ userId: id, name: 'gone' });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await db.rows(sql`select 1 from example.profiles`)).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
