import postgres from 'postgres';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, requireServers, testServers, unreachableServers } from '../src/testing/servers';

const savedEnv = { CI: process.env.CI, TEST_REDIS_URL: process.env.TEST_REDIS_URL };
afterEach(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

beforeAll(async () => {
  await requireServers(['postgres', 'nats', 'redis']);
});

describe('testServers', () => {
  it('defaults to the servers on this machine', () => {
    expect(testServers({})).toEqual({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
      natsUrl: 'nats://127.0.0.1:4222',
      redisUrl: 'redis://127.0.0.1:6379',
    });
  });
  it('is overridable by TEST_* variables', () => {
    expect(testServers({ TEST_NATS_URL: 'nats://ci:4222' }).natsUrl).toBe('nats://ci:4222');
  });
});

describe('requireServers', () => {
  it('resolves true when every server answers', async () => {
    await expect(requireServers(['postgres', 'nats', 'redis'])).resolves.toBe(true);
  });

  it('tells which servers do not answer', async () => {
    const missing = await unreachableServers(['postgres', 'nats', 'redis'], {
      databaseUrl: 'postgres://postgres@127.0.0.1:1/postgres',
      natsUrl: 'nats://127.0.0.1:1',
      redisUrl: 'redis://127.0.0.1:1',
    });
    expect(missing.map((m) => m.name)).toEqual(['postgres', 'nats', 'redis']);
  });

  it('does not take a NATS server for Redis or the other way round', async () => {
    const { natsUrl, redisUrl } = testServers();
    const missing = await unreachableServers(['nats', 'redis'], {
      databaseUrl: '',
      natsUrl: redisUrl.replace('redis:', 'nats:'),
      redisUrl: natsUrl.replace('nats:', 'redis:'),
    });
    expect(missing.map((m) => m.name)).toEqual(['nats', 'redis']);
  });

  it('fails under CI when a server is missing', async () => {
    process.env.CI = 'true';
    process.env.TEST_REDIS_URL = 'redis://127.0.0.1:1';
    await expect(requireServers(['redis'])).rejects.toThrow(/unreachable: redis.*CI is set/);
  });

  it('skips through the test context outside CI', async () => {
    delete process.env.CI;
    process.env.TEST_REDIS_URL = 'redis://127.0.0.1:1';
    const notes: (string | undefined)[] = [];
    await expect(requireServers(['redis'], { skip: (note) => void notes.push(note) })).resolves.toBe(false);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/redis/);
  });

  it('marks the tests of a suite skipped outside CI', async () => {
    delete process.env.CI;
    process.env.TEST_REDIS_URL = 'redis://127.0.0.1:1';
    const suite = { tasks: [{ mode: 'run' }, { mode: 'run', tasks: [{ mode: 'queued' }] }, { mode: 'todo' }] };
    await expect(requireServers(['redis'], suite)).resolves.toBe(false);
    expect(suite.tasks.map((t) => t.mode)).toEqual(['skip', 'skip', 'todo']);
    expect(suite.tasks[1].tasks?.[0].mode).toBe('skip');
  });
});

describe('createTestDatabase', () => {
  it('creates a fresh database and drops it, even with connections still open', async () => {
    const database = await createTestDatabase();
    expect(database.name).toMatch(/^t_[0-9a-f]{16}$/);
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    await sql`create table t (id int)`;
    expect(await sql`select current_database() as db`).toEqual([{ db: database.name }]);

    await database.drop();
    const admin = postgres(testServers().databaseUrl, { max: 1 });
    try {
      expect(await admin`select 1 from pg_database where datname = ${database.name}`).toHaveLength(0);
    } finally {
      await admin.end();
      await sql.end({ timeout: 1 }).catch(() => {});
    }
    await expect(database.drop()).resolves.toBeUndefined();
  });

  it('gives each call its own database', async () => {
    const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    try {
      expect(a.name).not.toBe(b.name);
      expect(a.url).not.toBe(b.url);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
  });
});
