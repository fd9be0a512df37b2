/**
 * Starting Parley for the end-to-end tests, in the two modes users run it:
 * embedded (PGlite in a temporary DATA_DIR, in-memory bus and key-value) and
 * connected (the real Postgres, NATS and Redis, on a fresh database and
 * unique bus/key prefixes). `stop()` removes everything the instance created
 * and nothing else on the shared servers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  deleteStreamsWithPrefix,
  requireServers,
  type SkipScope,
  testServers,
  uniqueTestPrefix,
} from '@parley/service-kit/testing';
import pino from 'pino';
import { type RunningParley, startParley } from '../../src/standalone';

export type Mode = 'embedded' | 'connected';

export interface TestParley {
  parley: RunningParley;
  /** The environment it was started with (URLs, prefixes), for child processes sharing it. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Limits raised so a test's own traffic (many registrations from one IP,
 * bursts of sends) is not what it measures; the limits have tests of their own.
 */
export const TEST_LIMITS: Record<string, string> = {
  RATE_LIMIT_ANON_PER_MIN: '10000',
  RATE_LIMIT_USER_PER_MIN: '10000',
  RATE_LIMIT_LOGIN_PER_MIN: '1000',
  RATE_LIMIT_SEND_PER_MIN: '6000',
  RATE_LIMIT_SEND_BURST: '1000',
  WS_FRAME_RATE_PER_SEC: '1000',
  AUTH_KEY_ENCRYPTION_SECRET: 'standalone-e2e-test-secret-0123456789abcdef',
};

const logger = pino({ name: 'parley-e2e', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** process.env (PATH and the like) without what would choose the mode or the instance for us. */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of [
    'DATABASE_URL',
    'NATS_URL',
    'REDIS_URL',
    'BUS_PREFIX',
    'KV_PREFIX',
    'PORT',
    'DATA_DIR',
    'WEB_ROOT',
  ]) {
    delete env[k];
  }
  return env;
}

/** Starts Parley in `mode`; resolves to null (tests skipped) when the real servers are missing outside CI. */
export async function startTestParley(
  mode: Mode,
  extraEnv: Record<string, string> = {},
  scope?: SkipScope,
): Promise<TestParley | null> {
  const dataDir = mkdtempSync(join(tmpdir(), `parley-e2e-${mode}-`));
  const base: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    DATA_DIR: dataDir,
    ...TEST_LIMITS,
    ...extraEnv,
  };
  const cleanups: (() => Promise<unknown>)[] = [async () => rmSync(dataDir, { recursive: true, force: true })];
  const runCleanups = async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        logger.warn({ err }, 'cleanup failed');
      }
    }
  };

  try {
    if (mode === 'connected') {
      if (!(await requireServers(['postgres', 'nats', 'redis'], scope))) {
        await runCleanups();
        return null;
      }
      const servers = testServers();
      const db = await createTestDatabase();
      cleanups.push(() => db.drop());
      const prefix = uniqueTestPrefix('e2e');
      const kvPrefix = `test:${prefix}:`;
      cleanups.push(() => deleteStreamsWithPrefix(servers.natsUrl, prefix));
      cleanups.push(() => deleteKeysWithPrefix(servers.redisUrl, kvPrefix));
      Object.assign(base, {
        DATABASE_URL: db.url,
        NATS_URL: servers.natsUrl,
        REDIS_URL: servers.redisUrl,
        BUS_PREFIX: prefix,
        KV_PREFIX: kvPrefix,
      });
    }
    const parley = await startParley({ env: { ...inheritedEnv(), ...base }, logger, buildWeb: false });
    cleanups.push(() => parley.close());
    return { parley, env: base, stop: runCleanups };
  } catch (err) {
    await runCleanups();
    throw err;
  }
}
