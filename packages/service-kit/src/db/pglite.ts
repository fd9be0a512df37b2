/**
 * DatabaseHandle on PGlite (Postgres compiled to WASM) for the embedded
 * standalone mode: no server, data in memory or under a directory. One
 * PGlite instance can be shared by every service of the process (each in its
 * own schema); a shared instance is closed by its owner, not by the handle.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import type { DatabaseHandle, Db } from './database';
import { applyMigrations, type MigrateOptions } from './migrate';
import { executeRows } from './rows';

export type { MigrateOptions } from './migrate';

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

export interface OpenPgliteOptions {
  /** Data directory (created by PGlite when missing). */
  dataDir: string;
  /**
   * A fresh data directory (no database in it yet) starts as a copy of a
   * template: a cleanly shut down database on which exactly these migrations
   * were applied, kept in `cacheDir` under a name made of the PGlite version
   * and the migration files, so any change to either makes a new one.
   * Without a matching template the directory is initialised (initdb), the
   * migrations are applied and a copy is saved as the template for next
   * time. Nothing but the migrations is in a template: it is taken before any
   * service writes. An existing database is opened as it is.
   */
  template?: { cacheDir: string; migrations: MigrateOptions[] };
}

export interface OpenedPglite {
  pglite: PGlite;
  /** `loaded`: the fresh directory was copied from a template; `created`: initialised, and saved as the template; `existing`: a database was there; `initialised`: fresh, no template asked for. */
  origin: 'loaded' | 'created' | 'existing' | 'initialised';
  /** The template directory used or written. */
  templateDir?: string;
  /** Saving the template failed (the database itself is fine: the next fresh start initialises again). */
  templateError?: Error;
}

/** Opens PGlite on a data directory, starting a fresh one from a migrated template (see OpenPgliteOptions). */
export async function openPglite(opts: OpenPgliteOptions): Promise<OpenedPglite> {
  const fresh = !existsSync(join(opts.dataDir, 'PG_VERSION'));
  if (!fresh) return { pglite: await PGlite.create(opts.dataDir), origin: 'existing' };
  if (!opts.template) return { pglite: await PGlite.create(opts.dataDir), origin: 'initialised' };

  const { cacheDir, migrations } = opts.template;
  const templateDir = join(cacheDir, `pglite-${pgliteTemplateKey(migrations)}`);
  if (existsSync(join(templateDir, 'PG_VERSION'))) {
    // A plain file copy of a cleanly shut down cluster (what Postgres calls a cold backup).
    cpSync(templateDir, opts.dataDir, { recursive: true });
    return { pglite: await PGlite.create(opts.dataDir), origin: 'loaded', templateDir };
  }

  const pglite = await PGlite.create(opts.dataDir);
  try {
    const db = drizzle({ client: pglite }) as unknown as Db;
    for (const m of migrations) await applyMigrations(db, m);
  } catch (err) {
    await pglite.close();
    throw err;
  }
  // Shut down cleanly so the files are a consistent copy, save them, reopen.
  await pglite.close();
  let templateError: Error | undefined;
  try {
    saveTemplate(opts.dataDir, templateDir);
  } catch (err) {
    templateError = err as Error;
  }
  return {
    pglite: await PGlite.create(opts.dataDir),
    origin: 'created',
    templateDir,
    ...(templateError ? { templateError } : {}),
  };
}

/** Copies the data directory into the cache atomically (concurrent starts may race) and removes older templates. */
function saveTemplate(dataDir: string, templateDir: string): void {
  const cacheDir = dirname(templateDir);
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${templateDir}.${process.pid}.tmp`;
  try {
    cpSync(dataDir, tmp, { recursive: true });
    renameSync(tmp, templateDir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // Another start saved the same template first: as good as ours.
    if (existsSync(join(templateDir, 'PG_VERSION'))) return;
    throw err;
  }
  for (const name of readdirSync(cacheDir)) {
    const path = join(cacheDir, name);
    if (path !== templateDir && /^pglite-[0-9a-f]+$/.test(name)) rmSync(path, { recursive: true, force: true });
  }
}

/** Hash of the PGlite version and every file of the migration folders, with their schemas. */
export function pgliteTemplateKey(migrations: MigrateOptions[]): string {
  const hash = createHash('sha256');
  hash.update(`pglite ${pgliteVersion()}\n`);
  for (const m of migrations) {
    hash.update(`schema ${m.schema}\n`);
    for (const file of listFiles(m.migrationsFolder)) {
      hash.update(`file ${file}\n`);
      hash.update(readFileSync(join(m.migrationsFolder, file)));
    }
  }
  return hash.digest('hex').slice(0, 24);
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  )) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}

function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  let dir = dirname(entry);
  for (let i = 0; i < 4; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const { name, version } = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
      if (name === '@electric-sql/pglite' && version) return version;
    }
    dir = dirname(dir);
  }
  throw new Error('cannot find the version of @electric-sql/pglite');
}
