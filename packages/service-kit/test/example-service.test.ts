/**
 * The kit end to end (issue 2, "Done when"), through a tiny test-only service
 * on the real Postgres, NATS and Redis: validation errors list every failing
 * field, the request id is echoed, logged and carried in the event's headers
 * to a durable consumer, an outbox event is applied exactly once across a
 * relay restart, and /readyz turns 503 when NATS goes away.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Bus } from '../src/bus/bus';
import { createNatsBus } from '../src/bus/nats-bus';
import { BaseServiceConfig, loadConfig } from '../src/config';
import type { ServiceApp } from '../src/http/app';
import { newId } from '../src/ids';
import { captureLogs } from '../src/testing/logs';
import { createTestInfra, type TestInfra } from '../src/testing/infra';
import { requireServers } from '../src/testing/servers';
import { buildExampleApp } from './example-service/app';
import { processedEvents, profileUpdates } from './example-service/db/schema';

await requireServers(['postgres', 'nats', 'redis']);

const config = loadConfig(BaseServiceConfig, { LOG_LEVEL: 'info' });

describe('example service on the kit', () => {
  let infra: TestInfra;
  const logs = captureLogs();
  let app: ServiceApp;

  const appliedFor = async (userId: string) => {
    const [row] = await infra.db.db.select().from(profileUpdates).where(eq(profileUpdates.userId, userId));
    return row;
  };
  const putProfile = (target: ServiceApp, userId: string, body: unknown, requestId?: string) =>
    target.inject({
      method: 'PUT',
      url: `/v1/example/profiles/${userId}`,
      payload: body as Record<string, unknown>,
      headers: requestId ? { 'x-request-id': requestId } : {},
    });

  beforeAll(async () => {
    infra = await createTestInfra({ service: 'example' });
    app = await buildExampleApp(config, infra, { logger: logs.logger, sweepIntervalMs: 3_600_000 });
  });
  afterAll(async () => {
    await app?.close();
    await infra?.close();
  });

  it('answers a body with several faults with 400 validation_failed listing every failing field', async () => {
    const before = await infra.db.rows(sql`select 1 from example.outbox`);
    const res = await putProfile(
      app,
      newId(),
      { name: 'x', avatarUrl: 'not a url', statusText: 42, nickname: 'extra' },
      'example-invalid-1',
    );
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-request-id']).toBe('example-invalid-1');
    const { error } = res.json();
    expect(error).toMatchObject({
      code: 'validation_failed',
      requestId: 'example-invalid-1',
      message: expect.any(String),
    });
    const details = error.details as { field: string; code: string; message: string }[];
    expect(details.map((d) => d.field).sort()).toEqual(['avatarUrl', 'name', 'nickname', 'statusText']);
    for (const d of details) {
      expect(d).toEqual({ field: expect.any(String), code: expect.any(String), message: expect.any(String) });
    }
    // Nothing was written, so nothing was emitted.
    expect(await infra.db.rows(sql`select 1 from example.outbox`)).toHaveLength(before.length);
  });

  it('answers a malformed path parameter with 400 validation_failed naming it', async () => {
    const res = await putProfile(app, 'not-a-uuid', { name: 'Ada Lovelace' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'validation_failed', details: [{ field: 'userId' }] });
  });

  it('echoes the request id, logs it, and carries it in the headers of the event a durable consumer applies', async () => {
    const userId = newId();
    const res = await putProfile(app, userId, { name: 'Ada Lovelace', statusText: 'counting' }, 'example-req-42');
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('example-req-42');
    expect(res.json()).toMatchObject({ id: userId, name: 'Ada Lovelace', statusText: 'counting', avatarUrl: null });

    const requestLines = logs.records().filter((r) => r.reqId === 'example-req-42');
    expect(requestLines.some((r) => r.msg === 'profile saved')).toBe(true);
    expect(requestLines.some((r) => r.msg === 'request completed')).toBe(true);

    await vi.waitFor(async () => expect((await appliedFor(userId))?.count).toBe(1), { timeout: 10_000 });
    expect((await appliedFor(userId))?.lastRequestId).toBe('example-req-42');

    // Without an incoming id (or with an unsafe one) the service makes one up and still echoes it.
    const unsafe = await putProfile(app, newId(), { name: 'Grace Hopper' }, 'bad id with spaces');
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('applies an outbox event exactly once across a relay restart', async () => {
    const userId = newId();
    const first = await putProfile(app, userId, { name: 'Katherine Johnson' }, 'example-restart-1');
    expect(first.statusCode).toBe(200);
    await vi.waitFor(async () => expect((await appliedFor(userId))?.count).toBe(1), { timeout: 10_000 });

    // The relay "crashed" after publishing but before marking the row: the
    // row is unpublished again when the service comes back.
    await app.close();
    const crashed = await infra.db.rows<{ event_id: string }>(
      sql`update example.outbox set published_at = null
        where payload->'data'->'user'->>'id' = ${userId} returning event_id`,
    );
    expect(crashed).toHaveLength(1);

    app = await buildExampleApp(config, infra, { logger: logs.logger, sweepIntervalMs: 3_600_000 });
    // The restarted relay publishes the row again (same event id) ...
    await vi.waitFor(
      async () => {
        const left = await infra.db.rows(sql`select 1 from example.outbox where published_at is null`);
        expect(left).toEqual([]);
      },
      { timeout: 10_000 },
    );
    // ... and once a later event went through the same consumer, the first is known to be settled.
    const later = newId();
    await putProfile(app, later, { name: 'Dorothy Vaughan' });
    await vi.waitFor(async () => expect((await appliedFor(later))?.count).toBe(1), { timeout: 10_000 });

    expect((await appliedFor(userId))?.count).toBe(1);
    const processed = await infra.db.db
      .select()
      .from(processedEvents)
      .where(eq(processedEvents.eventId, crashed[0]!.event_id));
    expect(processed).toHaveLength(1);
  });

  it('exports the outbox backlog and consumer lag on /metrics', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/outbox_backlog\{[^}]*producer="example"[^}]*\} \d+/);
    expect(res.body).toMatch(/outbox_published_total\{[^}]*producer="example"[^}]*\} [1-9]/);
    expect(res.body).toMatch(/consumer_pending\{[^}]*durable="example-user-updated"[^}]*\} \d+/);
    expect(res.body).toMatch(/consumer_handle_seconds_count\{[^}]*durable="example-user-updated"[^}]*\} [1-9]/);
  });

  describe('readiness when NATS goes away', () => {
    let server: ChildProcess | undefined;
    let storeDir: string;
    let privateBus: Bus | undefined;
    let readyApp: ServiceApp | undefined;

    const port = 14_000 + Math.floor(Math.random() * 1000);
    const listening = () =>
      new Promise<boolean>((resolve) => {
        const s = createConnection({ host: '127.0.0.1', port });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });

    beforeAll(async () => {
      storeDir = await mkdtemp(join(tmpdir(), 'kit-nats-'));
      server = spawn('nats-server', ['-p', String(port), '-js', '-sd', storeDir, '-a', '127.0.0.1'], {
        stdio: 'ignore',
      });
      await vi.waitFor(async () => expect(await listening()).toBe(true), { timeout: 10_000, interval: 50 });
      privateBus = await createNatsBus({
        url: `nats://127.0.0.1:${port}`,
        prefix: infra.busPrefix,
        logger: logs.logger,
      });
      readyApp = await buildExampleApp(config, { ...infra, bus: privateBus }, { logger: logs.logger });
    });
    afterAll(async () => {
      await readyApp?.close();
      await privateBus?.close().catch(() => {});
      if (server && server.exitCode === null) server.kill('SIGKILL');
      await rm(storeDir, { recursive: true, force: true });
    });

    it('answers 200 while NATS is up and 503 naming nats once it is unreachable', async () => {
      const ok = await readyApp!.inject({ method: 'GET', url: '/readyz' });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ status: 'ok' });

      const exited = new Promise((r) => server!.once('exit', r));
      server!.kill('SIGKILL');
      await exited;

      await vi.waitFor(
        async () => {
          const res = await readyApp!.inject({ method: 'GET', url: '/readyz' });
          expect(res.statusCode).toBe(503);
          expect(res.json()).toEqual({ status: 'unavailable', failed: ['nats'] });
        },
        { timeout: 15_000, interval: 200 },
      );
      // The process itself is still healthy.
      expect((await readyApp!.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    });
  });
});
