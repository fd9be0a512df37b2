import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/database';
import { createPostgresDatabase } from '../src/db/postgres';
import { createTestDatabase, requireServers, type TestDatabase } from '../src/testing/servers';
import { profiles } from './example-service/db/schema';

await requireServers(['postgres']);

const migrationsFolder = fileURLToPath(new URL('./example-service/drizzle', import.meta.url));

describe('postgres database handle', () => {
  let database: TestDatabase;
  const handles: DatabaseHandle[] = [];
  const open = async (opts: Partial<Parameters<typeof createPostgresDatabase>[0]> = {}) => {
    const h = await createPostgresDatabase({ url: database.url, applicationName: 'kit-db-test', ...opts });
    handles.push(h);
    return h;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close()));
    await database?.drop();
  });

  it('sets the session limits and application name on its connections', async () => {
    const db = await open({ statementTimeoutMs: 1234, idleInTxTimeoutMs: 5678, applicationName: 'kit-db-limits' });
    const [row] = await db.rows<{ st: string; idle: string; app: string }>(
      sql`select current_setting('statement_timeout') as st,
                 current_setting('idle_in_transaction_session_timeout') as idle,
                 current_setting('application_name') as app`,
    );
    expect(row).toEqual({ st: '1234ms', idle: '5678ms', app: 'kit-db-limits' });
  });

  it('cancels a statement that runs past the statement timeout', async () => {
    const db = await open({ statementTimeoutMs: 100 });
    // 57014: query_canceled (drizzle wraps the driver's error as the cause).
    await expect(db.rows(sql`select pg_sleep(2)`)).rejects.toMatchObject({ cause: { code: '57014' } });
    await db.ping();
  });

  it('works with prepared statements off (PgBouncer transaction mode)', async () => {
    const db = await open({ prepare: false });
    const rows = await db.rows<{ n: number }>(sql`select ${41}::int + 1 as n`);
    expect(rows).toEqual([{ n: 42 }]);
  });

  it('prepares the statements drizzle sends, once per connection, and not with prepare off', async () => {
    // pg_prepared_statements lists the statements of the session asking, so
    // everything runs in one transaction (one connection).
    const preparedHere = async (h: DatabaseHandle) =>
      h.db.transaction(async (tx) => {
        for (const n of [1, 2, 3]) {
          const [row] = await h.rows<{ n: number }>(sql`select ${n}::int + 100 as n`, tx);
          expect(row?.n).toBe(n + 100);
        }
        const listed = await h.rows<{ statement: string }>(
          sql`select statement from pg_prepared_statements where statement like ${'%::int + 100 as n%'}`,
          tx,
        );
        return listed.length;
      });
    // One statement for the three calls: prepared once, then executed by name.
    expect(await preparedHere(await open())).toBe(1);
    expect(await preparedHere(await open({ prepare: false }))).toBe(0);
  });

  it('migrates once when three replicas start together, and again is a no-op', async () => {
    const replicas = await Promise.all([open(), open(), open()]);
    await Promise.all(replicas.map((r) => r.migrate({ schema: 'example', migrationsFolder })));

    const db = replicas[0]!;
    const tables = await db.rows<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = 'example' order by table_name`,
    );
    expect(tables.map((t) => t.table_name)).toEqual([
      '__migrations',
      'outbox',
      'processed_events',
      'profile_updates',
      'profiles',
    ]);
    const applied = await db.rows(sql`select hash from example.__migrations`);
    expect(applied).toHaveLength(1);

    await replicas[1]!.migrate({ schema: 'example', migrationsFolder });
    expect(await db.rows(sql`select hash from example.__migrations`)).toHaveLength(1);

    // The migrated tables are usable through drizzle, inside and outside transactions.
    const id = '0190f5f0-0000-7000-8000-000000000001';
    await db.db.transaction(async (tx) => {
      await tx.insert(profiles).values({ userId: id, name: 'hello' });
      const inTx = await db.rows<{ name: string }>(sql`select name from example.profiles`, tx);
      expect(inTx).toEqual([{ name: 'hello' }]);
    });
    expect(await db.db.select({ name: profiles.name }).from(profiles)).toEqual([{ name: 'hello' }]);
  });

  it('rolls back a failed migration whole and leaves no bookkeeping row', async () => {
    const db = await open();
    const { mkdtemp, mkdir, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'kit-bad-migration-'));
    await mkdir(join(dir, 'meta'));
    await writeFile(
      join(dir, 'meta', '_journal.json'),
      JSON.stringify({
        version: '7',
        dialect: 'postgresql',
        entries: [{ idx: 0, version: '7', when: 1700000000000, tag: '0000_bad', breakpoints: true }],
      }),
    );
    await writeFile(
      join(dir, '0000_bad.sql'),
      'CREATE SCHEMA "broken";\n--> statement-breakpoint\nCREATE TABLE "broken"."a" (id int);\n--> statement-breakpoint\nSELECT * FROM "broken"."missing";',
    );
    await expect(db.migrate({ schema: 'broken', migrationsFolder: dir })).rejects.toThrow();
    const tables = await db.rows(
      sql`select 1 from information_schema.tables where table_schema = 'broken' and table_name = 'a'`,
    );
    expect(tables).toEqual([]);
    // The lock was released: another migration of the same schema is not stuck behind it.
    const locks = await db.rows(sql`select 1 from pg_locks l join pg_database d on d.oid = l.database
          where l.locktype = 'advisory' and l.granted and d.datname = current_database()`);
    expect(locks).toEqual([]);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    const db = await open();
    await expect(db.migrate({ schema: 'x"; drop database postgres; --', migrationsFolder })).rejects.toThrow(
      /invalid schema name/,
    );
  });
});
