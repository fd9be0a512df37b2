/**
 * The real servers integration tests run against (ARCHITECTURE.md, Tests),
 * and the rule for when one is missing: under `CI` the test FAILS (a green
 * run must mean the servers were exercised); elsewhere it is skipped, so a
 * laptop without Redis can still run the rest.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import postgres from 'postgres';
import { TestRunner } from 'vitest';

// Services' tests sign access tokens with it; re-exported here so that
// `@parley/service-kit/testing` offers it.
export { createTestSigner, type TestSigner } from '../auth/test-signer';

export type ServerName = 'postgres' | 'nats' | 'redis';

export interface TestServerUrls {
  databaseUrl: string;
  natsUrl: string;
  redisUrl: string;
}

/** Server URLs from `TEST_DATABASE_URL` / `TEST_NATS_URL` / `TEST_REDIS_URL`, or this machine's defaults. */
export function testServers(env: Record<string, string | undefined> = process.env): TestServerUrls {
  return {
    databaseUrl: env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    natsUrl: env.TEST_NATS_URL || 'nats://127.0.0.1:4222',
    redisUrl: env.TEST_REDIS_URL || 'redis://127.0.0.1:6379',
  };
}

const PROBE_TIMEOUT_MS = 2000;

/** Opens a TCP connection, optionally writes `send`, resolves with the first bytes received. */
function tcpProbe(url: string, defaultPort: number, send?: string): Promise<string> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(u.port || defaultPort);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${PROBE_TIMEOUT_MS} ms`));
    }, PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      if (send) socket.write(send);
    });
    socket.once('data', (data) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString('utf8'));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

async function probe(name: ServerName, urls: TestServerUrls): Promise<void> {
  if (name === 'postgres') {
    const sql = postgres(urls.databaseUrl, { max: 1, connect_timeout: PROBE_TIMEOUT_MS / 1000, onnotice: () => {} });
    try {
      await sql`select 1`;
    } finally {
      await sql.end({ timeout: 1 });
    }
  } else if (name === 'nats') {
    // A NATS server greets every connection with an INFO line.
    const greeting = await tcpProbe(urls.natsUrl, 4222);
    if (!greeting.startsWith('INFO ')) throw new Error('the server did not greet like NATS');
  } else {
    const answer = await tcpProbe(urls.redisUrl, 6379, 'PING\r\n');
    // +PONG, or -NOAUTH from a password-protected server (still reachable).
    if (!answer.startsWith('+PONG') && !answer.startsWith('-NOAUTH')) throw new Error('the server did not answer PING');
  }
}

/** Names of the servers among `names` that do not answer, with why. */
export async function unreachableServers(
  names: readonly ServerName[],
  urls = testServers(),
): Promise<{ name: ServerName; reason: string }[]> {
  const results = await Promise.all(
    names.map(async (name) => {
      try {
        await probe(name, urls);
        return null;
      } catch (err) {
        return { name, reason: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  return results.filter((r): r is { name: ServerName; reason: string } => r !== null);
}

/** A test context (`ctx.skip`) or a suite/file task (from `beforeAll((_ctx, suite) => ...)`). */
export type SkipScope = { skip: (note?: string) => void } | { tasks: unknown[] };

interface TaskLike {
  mode?: string;
  tasks?: TaskLike[];
  result?: unknown;
}

function markSkipped(task: TaskLike) {
  for (const child of task.tasks ?? []) {
    if (child.mode === 'run' || child.mode === 'queued') child.mode = 'skip';
    markSkipped(child);
  }
}

/**
 * Checks that the servers answer. When one does not: throws under `CI`;
 * otherwise skips the tests and resolves to `false` (so the caller can stop
 * its setup: `if (!(await requireServers(['postgres']))) return;`).
 *
 * Where to call it: at the top level of a test file (`await requireServers([...])`:
 * the whole file, hooks included, is skipped), in `beforeAll` (the file's
 * remaining tests are skipped; pass the suite, `beforeAll((_ctx, suite) => requireServers(names, suite))`,
 * to skip only that suite), or in a test / `beforeEach` with its context.
 */
export async function requireServers(names: readonly ServerName[], scope?: SkipScope): Promise<boolean> {
  const missing = await unreachableServers(names);
  if (missing.length === 0) return true;
  const note = `unreachable: ${missing.map((m) => `${m.name} (${m.reason})`).join(', ')}`;
  if (process.env.CI) {
    throw new Error(`${note}. CI is set, so tests needing these servers fail instead of skipping.`);
  }
  if (scope && 'skip' in scope) {
    scope.skip(note);
    return false;
  }
  if (scope && 'tasks' in scope) {
    markSkipped(scope as TaskLike);
    return false;
  }
  const file = (TestRunner.getCurrentSuite() as { file?: TaskLike }).file;
  if (!file) throw new Error(`${note} (and no test file to skip)`);
  if (file.result === undefined) {
    // Collecting: the file is skipped whole, its hooks included.
    file.mode = 'skip';
  } else {
    markSkipped(file);
  }
  console.warn(`[requireServers] skipping: ${note}`);
  return false;
}

export interface TestDatabase {
  /** URL of the fresh database. */
  url: string;
  name: string;
  /** Terminates its connections and drops it. */
  drop(): Promise<void>;
}

/** Creates a fresh, empty database `t_<random>` on the test Postgres; `drop()` removes it. */
export async function createTestDatabase(opts: { adminUrl?: string } = {}): Promise<TestDatabase> {
  const adminUrl = opts.adminUrl ?? testServers().databaseUrl;
  const name = `t_${randomBytes(8).toString('hex')}`;
  const admin = () => postgres(adminUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });

  const sql = admin();
  try {
    await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;

  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      const sql = admin();
      try {
        await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
        await sql.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}
