import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestSigner, createTestSigner } from '../src/auth/test-signer';
import { createPostgresDatabase } from '../src/db/postgres';
import type { DatabaseHandle } from '../src/db/database';
import type { ServiceApp } from '../src/http/app';
import type { KeyValue } from '../src/kv/key-value';
import { createRedisKv } from '../src/kv/redis-kv';
import { type CapturedLogs, captureLogs } from '../src/testing/logs';
import { type TestDatabase, createTestDatabase, requireServers, testServers } from '../src/testing/servers';
import { buildExampleApp } from './support/example-app';
import { type FakeBus, createFakeBus } from './support/fake-bus';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let database: TestDatabase | undefined;
let db: DatabaseHandle;
let kv: KeyValue;
let bus: FakeBus;
let logs: CapturedLogs;
let signer: TestSigner;
let app: ServiceApp;
let token: string;
const kvPrefix = `test:http:${randomBytes(5).toString('hex')}:`;

beforeAll(async () => {
  if (!(await requireServers(['postgres', 'redis']))) return;
  database = await createTestDatabase();
  db = await createPostgresDatabase({ url: database.url, poolMax: 2 });
  kv = createRedisKv({ url: testServers().redisUrl, prefix: kvPrefix });
  bus = createFakeBus();
  logs = captureLogs();
  signer = await createTestSigner();
  app = await buildExampleApp({ infra: { db, bus, kv, logger: logs.logger }, logger: logs.logger, keys: signer.keys });
  await app.ready();
  token = await signer.sign({ userId: randomUUID() });
});

afterAll(async () => {
  await app?.close();
  await kv?.close();
  await db?.close();
  await database?.drop();
});

const auth = () => ({ authorization: `Bearer ${token}` });
const validThing = { email: 'ada@example.com', name: 'Ada', age: 36, type: 'group' };

describe('validation errors', () => {
  it('list every failing field: bad formats, wrong types, unknown fields, out-of-range values', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: auth(),
      payload: {
        email: 'not-an-email',
        name: 'A',
        age: 'thirty',
        type: 'triangle',
        website: 'not a uri',
        ownerId: 'nope',
        at: 'yesterday',
        tags: ['ok', 'toolong', 'a', 'b'],
        isAdmin: true,
      },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.requestId).toBe(res.headers['x-request-id']);
    const byField = Object.fromEntries(
      body.error.details.map((d: { field: string; code: string }) => [d.field, d.code]),
    );
    expect(byField).toEqual({
      email: 'invalid_format',
      name: 'too_short',
      age: 'invalid_type',
      type: 'invalid_value',
      website: 'invalid_format',
      ownerId: 'invalid_format',
      at: 'invalid_format',
      'tags.1': 'too_long',
      tags: 'too_many_items',
      isAdmin: 'unknown_field',
    });
    const type = body.error.details.find((d: { field: string }) => d.field === 'type');
    expect(type.message).toBe('must be one of direct, group');
  });

  it('list every missing required field', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/things', headers: auth(), payload: {} });
    expect(res.statusCode).toBe(400);
    const fields = res.json().error.details.map((d: { field: string; code: string }) => `${d.field}:${d.code}`);
    expect(fields.sort()).toEqual(['age:required', 'email:required', 'name:required', 'type:required']);
  });

  it('do not coerce body types, but do coerce the query string', async () => {
    const asString = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: auth(),
      payload: { ...validThing, age: '36' },
    });
    expect(asString.statusCode).toBe(400);
    expect(asString.json().error.details).toEqual([{ field: 'age', code: 'invalid_type', message: 'must be integer' }]);

    const ok = await app.inject({ method: 'POST', url: '/v1/things?limit=10', headers: auth(), payload: validThing });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().limit).toBe(10);
    const defaulted = await app.inject({ method: 'POST', url: '/v1/things', headers: auth(), payload: validThing });
    expect(defaulted.json().limit).toBe(50);
  });

  it('report unknown and invalid query parameters and path params by name', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things?limit=0&debug=1',
      headers: auth(),
      payload: validThing,
    });
    expect(res.statusCode).toBe(400);
    const fields = res.json().error.details.map((d: { field: string; code: string }) => `${d.field}:${d.code}`);
    expect(fields.sort()).toEqual(['debug:unknown_field', 'limit:too_small']);

    const params = await app.inject({ method: 'GET', url: '/v1/things/abc', headers: auth() });
    expect(params.statusCode).toBe(400);
    expect(params.json().error.details).toEqual([{ field: 'id', code: 'invalid_type', message: 'must be integer' }]);
    expect((await app.inject({ method: 'GET', url: '/v1/things/7', headers: auth() })).json().id).toBe(7);
  });

  it('name the body itself when it is not an object', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/things', headers: auth(), payload: [1, 2] });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([{ field: 'body', code: 'invalid_type', message: 'must be object' }]);
  });
});

describe('request errors', () => {
  const json = { 'content-type': 'application/json' };

  it('answers malformed JSON with 400 bad_request', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { ...auth(), ...json },
      payload: '{"email": "a@b.c", "password": "hunter2"',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'bad_request', requestId: res.headers['x-request-id'] });
    expect(logs.text()).not.toContain('hunter2');
  });

  it('answers an empty JSON body with 400 bad_request', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/things', headers: { ...auth(), ...json }, payload: '' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('bad_request');
  });

  it('answers prototype pollution attempts with 400', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { ...auth(), ...json },
      payload: '{"__proto__": {"isAdmin": true}, "name": "Ada"}',
    });
    expect(res.statusCode).toBe(400);
  });

  it('answers a body over the limit (64 KiB) with 413 payload_too_large', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/public/echo',
      payload: { content: 'x'.repeat(65 * 1024) },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('payload_too_large');
    const under = await app.inject({
      method: 'POST',
      url: '/v1/public/echo',
      payload: { content: 'x'.repeat(60_000) },
    });
    expect(under.statusCode).toBe(200);
  });

  it.each(['text/plain', 'application/xml', 'application/x-www-form-urlencoded'])(
    'answers content type %s with 415 unsupported_media_type',
    async (type) => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/public/echo',
        headers: { 'content-type': type },
        payload: 'content=hi',
      });
      expect(res.statusCode).toBe(415);
      expect(res.json().error.code).toBe('unsupported_media_type');
    },
  );

  it('answers an unknown route with 404 not_found in the error shape, token or not', async () => {
    for (const headers of [{}, auth()]) {
      const res = await app.inject({ method: 'GET', url: '/v1/nothing-here?token=abc', headers });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({
        error: { code: 'not_found', message: 'route not found', requestId: res.headers['x-request-id'] },
      });
    }
  });

  it('answers an unexpected error with 500 internal, without internals', async () => {
    logs.clear();
    const res = await app.inject({ method: 'GET', url: '/v1/public/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      error: { code: 'internal', message: 'internal error', requestId: res.headers['x-request-id'] },
    });
    expect(res.body).not.toMatch(/SELEKT|password_hash|at .*\.ts/);
    // ...but the logs have it, with the request id.
    const logged = logs.records().find((r) => r.msg === 'request error');
    expect(logged).toMatchObject({ level: 50, reqId: res.headers['x-request-id'] });
    expect(JSON.stringify(logged)).toContain('SELEKT');
  });

  it('answers a dependency failure with 503 unavailable and Retry-After', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/public/db-down' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('unavailable');
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).not.toContain('5432');
  });

  it('answers a named service error with its API code and message', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/public/closed' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'conflict', message: 'thing t1 is closed' });
  });
});

describe('request ids', () => {
  it('accepts a safe incoming X-Request-Id and uses it everywhere: header, errors, context, logs, bus headers', async () => {
    logs.clear();
    const id = 'client-req_1.2:3';
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { ...auth(), 'x-request-id': id },
      payload: validThing,
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['x-request-id']).toBe(id);
    // Still in the async context after the body was parsed.
    expect(res.json()).toMatchObject({ requestId: id, headers: { requestId: id } });
    const lines = logs.records();
    expect(lines.length).toBeGreaterThanOrEqual(3); // incoming, handler, completed
    for (const line of lines) expect(line.reqId).toBe(id);
    expect(lines.map((l) => l.msg)).toContain('creating thing');

    const err = await app.inject({ method: 'GET', url: '/v1/nope', headers: { 'x-request-id': id } });
    expect(err.headers['x-request-id']).toBe(id);
    expect(err.json().error.requestId).toBe(id);

    bus.serve('rpc.example.echo', () => ({}));
    await app.inject({ method: 'GET', url: '/v1/public/rpc', headers: { 'x-request-id': id } });
    expect(bus.requests.at(-1)).toEqual({ subject: 'rpc.example.echo', headers: { requestId: id } });
  });

  it.each([
    ['too long', 'x'.repeat(129)],
    ['with spaces', 'a b'],
    ['with unsafe characters', '<script>alert(1)</script>'],
    ['empty', ''],
  ])('replaces an incoming id that is %s with a new UUID v7', async (_name, incoming) => {
    const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': incoming } });
    expect(res.headers['x-request-id']).toMatch(UUID_V7);
  });

  it('generates a distinct id per request when none is sent', async () => {
    const a = await app.inject({ method: 'GET', url: '/v1/public/closed' });
    const b = await app.inject({ method: 'GET', url: '/v1/public/closed' });
    expect(a.headers['x-request-id']).toMatch(UUID_V7);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    expect(a.json().error.requestId).toBe(a.headers['x-request-id']);
  });
});

describe('logs', () => {
  it('never contain passwords, tokens, authorization, cookies or message content', async () => {
    logs.clear();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/public/echo?token=query-token-123',
      headers: {
        authorization: 'Bearer header-token-456',
        cookie: 'session=cookie-789',
      },
      payload: { content: 'my secret message body', password: 'pw-hunter2', profile: { refreshToken: 'rt-abc' } },
    });
    expect(res.statusCode).toBe(200);
    const text = logs.text();
    expect(text).toContain('"msg":"echo"');
    for (const secret of [
      'query-token-123',
      'header-token-456',
      'cookie-789',
      'my secret message body',
      'pw-hunter2',
      'rt-abc',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('/v1/public/echo');
  });
  it('follow LOG_LEVEL when the app logs through infra.logger', async () => {
    const quiet = captureLogs();
    const other = await buildExampleApp({
      infra: { db, bus, kv, logger: quiet.logger },
      keys: signer.keys,
      env: { LOG_LEVEL: 'error' },
    });
    try {
      await other.inject({ method: 'GET', url: '/v1/public/closed' });
      expect(quiet.lines()).toEqual([]);
      await other.inject({ method: 'GET', url: '/v1/public/boom' });
      expect(quiet.records().map((r) => r.msg)).toEqual(['request error']);
    } finally {
      await other.close();
    }
  });
});

describe('health, readiness, metrics', () => {
  it('/healthz answers ok without a token', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers ok when Postgres, the bus and Redis answer', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.json()).toEqual({ status: 'ok' });
    expect(res.statusCode).toBe(200);
  });

  it('/readyz answers 503 naming each dependency that does not answer', async () => {
    const deadKv = createRedisKv({ url: 'redis://127.0.0.1:1', prefix: kvPrefix });
    const downBus = createFakeBus();
    downBus.up = false;
    const other = await buildExampleApp({
      infra: { db, bus: downBus, kv: deadKv, logger: logs.logger },
      logger: logs.logger,
      keys: signer.keys,
    });
    try {
      const res = await other.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ status: 'unavailable', failed: ['nats', 'redis'] });
      // Health is about the process, not its dependencies.
      expect((await other.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await other.close();
      await deadKv.close();
    }
  });

  it('/metrics serves Prometheus text with the request latency histogram by route and status', async () => {
    await app.inject({ method: 'GET', url: '/v1/public/closed' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('# TYPE http_request_duration_seconds histogram');
    expect(res.body).toMatch(
      /http_request_duration_seconds_count\{service="example",method="GET",route="\/v1\/public\/closed",status_code="409"\} [1-9]/,
    );
    expect(res.body).toContain('process_cpu_user_seconds_total');
  });

  it('lets the service add its own metrics to app.metrics', async () => {
    const { counter } = await import('../src/metrics');
    counter(app.metrics, { name: 'example_things_total', help: 'things' }).inc(3);
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).toContain('example_things_total{service="example"} 3');
  });
});

describe('client address', () => {
  it('ignores X-Forwarded-For unless the proxy is trusted', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.9' };
    const direct = await app.inject({ method: 'GET', url: '/v1/public/ip', headers, remoteAddress: '10.0.0.5' });
    expect(direct.json().ip).toBe('10.0.0.5');

    const behindProxy = await buildExampleApp({
      infra: { db, bus, kv, logger: logs.logger },
      keys: signer.keys,
      trustProxy: '10.0.0.0/8',
    });
    try {
      const viaProxy = await behindProxy.inject({
        method: 'GET',
        url: '/v1/public/ip',
        headers,
        remoteAddress: '10.0.0.5',
      });
      expect(viaProxy.json().ip).toBe('203.0.113.9');
      const spoofed = await behindProxy.inject({
        method: 'GET',
        url: '/v1/public/ip',
        headers,
        remoteAddress: '198.51.100.7',
      });
      expect(spoofed.json().ip).toBe('198.51.100.7');
    } finally {
      await behindProxy.close();
    }
  });
});

describe('decorations', () => {
  it('exposes the infra handles on the app', () => {
    expect(app.db).toBe(db);
    expect(app.kv).toBe(kv);
    expect(app.bus).toBe(bus);
    expect(app.infra.logger).toBe(logs.logger);
  });
});
