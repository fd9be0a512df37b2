import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/database';
import { createPostgresDatabase } from '../src/db/postgres';
import { runService } from '../src/http/server';
import type { Infra } from '../src/infra';
import { createRedisKv } from '../src/kv/redis-kv';
import { captureLogs } from '../src/testing/logs';
import { type TestDatabase, createTestDatabase, requireServers, testServers } from '../src/testing/servers';
import { buildExampleApp } from './support/example-app';
import { createFakeBus } from './support/fake-bus';

let database: TestDatabase | undefined;
let db: DatabaseHandle | undefined;

beforeAll(async () => {
  if (!(await requireServers(['postgres', 'redis']))) return;
  database = await createTestDatabase();
  db = await createPostgresDatabase({ url: database.url, poolMax: 2 });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

describe('runService', () => {
  it('listens, serves over real HTTP, then closes the app before the infra', async () => {
    const logs = captureLogs();
    const kv = createRedisKv({ url: testServers().redisUrl, prefix: `test:srv:${randomBytes(4).toString('hex')}:` });
    const infra: Infra = { db: db as DatabaseHandle, bus: createFakeBus(), kv, logger: logs.logger };
    const order: string[] = [];
    const running = await runService(
      async () => {
        const app = await buildExampleApp({ infra, logger: logs.logger, auth: false });
        app.addHook('onClose', async () => void order.push('app'));
        return app;
      },
      {
        port: 0,
        host: '127.0.0.1',
        onClose: async () => {
          order.push('infra');
          await kv.close();
        },
      },
    );
    const res = await fetch(`${running.address}/healthz`, { headers: { 'x-request-id': 'over-the-wire' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('over-the-wire');
    const bad = await fetch(`${running.address}/v1/public/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"content":',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('bad_request');

    await running.close();
    expect(order).toEqual(['app', 'infra']);
    await expect(fetch(`${running.address}/healthz`)).rejects.toThrow();
    expect(logs.text()).toContain('service listening');
    // Closing twice is harmless.
    await running.close();
    expect(order).toEqual(['app', 'infra']);
  });

  it('closes the infra and rejects when the build fails', async () => {
    let closed = false;
    await expect(
      runService(
        async () => {
          throw new Error('bad migration');
        },
        {
          port: 0,
          onClose: () => {
            closed = true;
          },
        },
      ),
    ).rejects.toThrow('bad migration');
    expect(closed).toBe(true);
  });
});
