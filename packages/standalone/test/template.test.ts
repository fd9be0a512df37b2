/**
 * A fresh embedded data directory starts from the database template (every
 * service's migrations, nothing else): the first fresh start creates it, the
 * next fresh start copies it, and the copy holds none of the first
 * instance's users or keys, only a working, empty Parley.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParleyApiError, ParleyClient } from '@parley/sdk';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningParley, startParley } from '../src/standalone';
import { PASSWORD, registerUser } from './support/clients';
import { TEST_LIMITS } from './support/parley';

const logger = pino({ name: 'parley-e2e', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const root = mkdtempSync(join(tmpdir(), 'parley-e2e-template-'));
const cacheDir = join(root, 'cache');
const running: RunningParley[] = [];

function env(dataDir: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...TEST_LIMITS, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir };
  for (const k of ['DATABASE_URL', 'NATS_URL', 'REDIS_URL', 'BUS_PREFIX', 'KV_PREFIX', 'WEB_ROOT']) delete e[k];
  e.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'warn';
  return e;
}

async function start(dataDir: string): Promise<RunningParley> {
  const parley = await startParley({ env: env(dataDir), logger, buildWeb: false, templateCacheDir: cacheDir });
  running.push(parley);
  return parley;
}

afterAll(async () => {
  for (const p of running) await p.close().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

describe('embedded database template', () => {
  it('starts a fresh data directory from the migrated template, without the data of another instance', async () => {
    // First fresh start on this cache: initialised, migrated, saved as the template.
    const first = await start(join(root, 'first'));
    expect(first.startup.database).toBe('created');
    const ada = await registerUser(first.url, 'Ada Lovelace');
    const grace = await registerUser(first.url, 'Grace Hopper');
    const room = await ada.client.conversations.create({ type: 'direct', memberIds: [grace.user.id] });
    await ada.client.messages.send(room.id, { content: 'only in the first instance' });

    // Second fresh directory: copied from the template, every service's migrations in it.
    const secondDir = join(root, 'second');
    let second = await start(secondDir);
    expect(second.startup.database).toBe('loaded');
    expect(second.startup.migrationsMissingFromTemplate).toEqual([]);

    // Nothing of the first instance came along.
    const stranger = new ParleyClient({ baseUrl: second.url });
    const refused = await stranger.auth.login({ email: ada.email, password: PASSWORD }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ParleyApiError);
    expect((refused as ParleyApiError).status).toBe(401);

    // And it works like any new Parley, across a restart too.
    const linus = await registerUser(second.url, 'Linus Torvalds');
    const ken = await registerUser(second.url, 'Ken Thompson');
    const room2 = await linus.client.conversations.create({ type: 'direct', memberIds: [ken.user.id] });
    const sent = await linus.client.messages.send(room2.id, { content: 'in the second instance' });
    await second.close();
    running.splice(running.indexOf(second), 1);

    second = await start(secondDir);
    expect(second.startup.database).toBe('existing');
    const again = new ParleyClient({ baseUrl: second.url });
    await again.auth.login({ email: linus.email, password: PASSWORD });
    const page = await again.messages.list(room2.id, { limit: 10 });
    expect(page.items.find((m) => m.id === sent.id)?.content).toBe('in the second instance');
  });

  it('initialises a fresh directory from scratch when the template is turned off', async () => {
    const parley = await startParley({
      env: env(join(root, 'no-template')),
      logger,
      buildWeb: false,
      templateCacheDir: false,
    });
    running.push(parley);
    expect(parley.startup.database).toBe('initialised');
    const user = await registerUser(parley.url, 'Barbara Liskov');
    expect(user.user.id).toBeTruthy();
    expect(existsSync(join(root, 'no-template', 'pglite', 'PG_VERSION'))).toBe(true);
  });
});
