/**
 * Builds the auth service for integration tests on the real Postgres, NATS
 * and Redis (a fresh database, bus prefix and key prefix per file), with a
 * logger that captures every line, and tracks every secret the tests handle
 * (passwords, tokens, and at the end the stored hashes) so a test can assert
 * that none of them was ever logged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventType, filterOf } from '@parley/contracts';
import { loadConfig, natsStreamName } from '@parley/service-kit';
import {
  type CapturedLogs,
  captureLogs,
  createTestInfra,
  type TestInfra,
  testServers,
} from '@parley/service-kit/testing';
import type { FastifyInstance } from 'fastify';
import { connect } from 'nats';
import { type BuildOptions, buildApp } from '../src/app';
import { AuthConfig } from '../src/config';

export const TEST_KEY_SECRET = 'integration-test-key-encryption-secret-0123456789';

export interface TestContext {
  app: FastifyInstance;
  infra: TestInfra;
  config: AuthConfig;
  logs: CapturedLogs;
  secrets: Set<string>;
  /** Builds another app on the same infra (a second replica, or a restart after `app.close()`). */
  buildAnother(options?: BuildOptions): Promise<FastifyInstance>;
  close(): Promise<void>;
}

export async function buildTestContext(
  env: Record<string, string> = {},
  options: BuildOptions = {},
): Promise<TestContext> {
  const logs = captureLogs();
  const infra = await createTestInfra({ real: true, service: 'auth', logger: logs.logger });
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-auth-test-'));
  const config = loadConfig(AuthConfig, {
    LOG_LEVEL: 'trace',
    DATA_DIR: dataDir,
    AUTH_KEY_ENCRYPTION_SECRET: TEST_KEY_SECRET,
    ...env,
  });
  const apps: FastifyInstance[] = [];
  const buildAnother = async (o: BuildOptions = {}) => {
    const app = await buildApp(config, infra, o);
    apps.push(app);
    return app;
  };
  let app: FastifyInstance;
  try {
    app = await buildAnother(options);
  } catch (err) {
    await infra.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    app,
    infra,
    config,
    logs,
    secrets: new Set(),
    buildAnother,
    async close() {
      // AUTH_TEST_DEBUG=1 prints the warnings and errors the run logged.
      if (process.env.AUTH_TEST_DEBUG) {
        for (const r of logs.records()) if (Number(r.level) >= 40) console.error(JSON.stringify(r).slice(0, 2000));
      }
      for (const a of apps) await a.close();
      await infra.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every stored password hash and refresh-token hash, to check that none was logged either. */
export async function storedHashes(ctx: TestContext): Promise<string[]> {
  const { sql } = await import('drizzle-orm');
  const users = await ctx.infra.db.rows<{ h: string }>(
    sql`select password_hash as h from auth.users where password_hash is not null`,
  );
  const tokens = await ctx.infra.db.rows<{ h: string }>(sql`select token_hash as h from auth.refresh_tokens`);
  return [...users, ...tokens].map((r) => r.h);
}

/**
 * Asserts that no tracked secret (nor any stored hash) appears in any captured
 * log line, and that logging did happen (so the check cannot pass vacuously).
 */
export async function expectNoSecretsLogged(ctx: TestContext): Promise<void> {
  const lines = ctx.logs.lines();
  if (lines.length === 0) throw new Error('no log line was captured: the secrets check would be vacuous');
  const secrets = [...ctx.secrets, ...(await storedHashes(ctx))].filter((s) => s.length >= 8);
  if (secrets.length === 0) throw new Error('no secret was tracked: the secrets check would be vacuous');
  const text = ctx.logs.text();
  const leaked = secrets.filter((s) => text.includes(s));
  if (leaked.length > 0) {
    throw new Error(`${leaked.length} secret(s) appear in the logs, e.g. ${leaked[0]!.slice(0, 6)}...`);
  }
}

/** Collects the events of one type published on the bus (core subscription sees JetStream publishes). */
export function collectEvents<T = Record<string, unknown>>(ctx: TestContext, type: EventType) {
  const events: { subject: string; data: { id: string; type: string; data: T } }[] = [];
  const sub = ctx.infra.bus.subscribe<{ id: string; type: string; data: T }>(filterOf(type), (msg) => {
    events.push({ subject: msg.subject, data: msg.data });
  });
  return { events, stop: () => sub.unsubscribe() };
}

/** How many messages the auth stream stores on subjects matching `filter` (e.g. `user.<id>.deleted`). */
export async function storedEventCount(ctx: TestContext, filter: string): Promise<number> {
  const nc = await connect({ servers: testServers().natsUrl, timeout: 5000 });
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(natsStreamName(ctx.infra.busPrefix, 'AUTH'), {
      subjects_filter: `${ctx.infra.busPrefix}.${filter}`,
    });
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  } finally {
    await nc.close();
  }
}

/** Polls `check` until it returns a value other than undefined (bounded). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
