/**
 * openPglite: a fresh data directory starts from a template holding the
 * given migrations (made by the first fresh start, copied by the next), a new
 * template is made when a migration file changes, and an existing database
 * is opened as it is.
 */
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite, pgliteTemplateKey } from '../src/db/pglite';

const root = mkdtempSync(join(tmpdir(), 'parley-pglite-template-'));
const cacheDir = join(root, 'cache');
const migrationsFolder = join(root, 'drizzle');
cpSync(fileURLToPath(new URL('./example-service/drizzle', import.meta.url)), migrationsFolder, { recursive: true });
const template = { cacheDir, migrations: [{ schema: 'example', migrationsFolder }] };

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function profilesIn(dataDir: string) {
  const opened = await openPglite({ dataDir, template });
  try {
    const { rows } = await opened.pglite.query<{ n: number }>('select count(*)::int as n from example.profiles');
    return { origin: opened.origin, profiles: rows[0]!.n, templateDir: opened.templateDir };
  } finally {
    await opened.pglite.close();
  }
}

describe('pglite data directory template', () => {
  it('creates the template once, copies it into fresh directories and leaves existing ones alone', async () => {
    const first = await profilesIn(join(root, 'a'));
    expect(first).toMatchObject({ origin: 'created', profiles: 0 });

    // Data written after the template was taken stays in its own directory.
    const a = await openPglite({ dataDir: join(root, 'a'), template });
    expect(a.origin).toBe('existing');
    await a.pglite.query(`insert into example.profiles (user_id, name) values (gen_random_uuid(), 'only in a')`);
    await a.pglite.close();

    const second = await profilesIn(join(root, 'b'));
    expect(second).toEqual({ origin: 'loaded', profiles: 0, templateDir: first.templateDir });
    expect((await profilesIn(join(root, 'a'))).profiles).toBe(1);
  }, 120_000);

  it('makes a new template when a migration file changes', async () => {
    const before = pgliteTemplateKey(template.migrations);
    appendFileSync(
      join(migrationsFolder, readdirSync(migrationsFolder).find((f) => f.endsWith('.sql'))!),
      '\n-- edited\n',
    );
    expect(pgliteTemplateKey(template.migrations)).not.toBe(before);

    const fresh = await profilesIn(join(root, 'c'));
    expect(fresh.origin).toBe('created');
    // The outdated template was removed; only the new one is kept.
    expect(readdirSync(cacheDir)).toEqual([fresh.templateDir!.split('/').pop()]);
  }, 120_000);
});
