import { randomBytes, randomUUID } from 'node:crypto';
import { RPC } from '@parley/contracts';
import { SignJWT, base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestSigner, createTestSigner } from '../src/auth/test-signer';
import { revokedSessionKey, revokedUserKey } from '../src/auth/verify';
import type { DatabaseHandle } from '../src/db/database';
import { createPostgresDatabase } from '../src/db/postgres';
import type { ServiceApp } from '../src/http/app';
import type { KeyValue } from '../src/kv/key-value';
import { createRedisKv } from '../src/kv/redis-kv';
import { captureLogs } from '../src/testing/logs';
import { type TestDatabase, createTestDatabase, requireServers, testServers } from '../src/testing/servers';
import { buildExampleApp } from './support/example-app';
import { type FakeBus, createFakeBus } from './support/fake-bus';

const kvPrefix = `test:auth:${randomBytes(5).toString('hex')}:`;
let kv: KeyValue;
let db: DatabaseHandle;
let database: TestDatabase | undefined;
let bus: FakeBus;
let ed: TestSigner;
let es: TestSigner;
let stranger: TestSigner;
let app: ServiceApp;
const logs = captureLogs();

beforeAll(async () => {
  if (!(await requireServers(['postgres', 'redis']))) return;
  kv = createRedisKv({ url: testServers().redisUrl, prefix: kvPrefix });
  database = await createTestDatabase();
  db = await createPostgresDatabase({ url: database.url, poolMax: 2 });
  bus = createFakeBus();
  [ed, es, stranger] = await Promise.all([
    createTestSigner({ alg: 'EdDSA' }),
    createTestSigner({ alg: 'ES256' }),
    createTestSigner({ alg: 'EdDSA' }),
  ]);
  // The auth service's JWKS endpoint on the bus: the default key source.
  bus.serve(RPC.authJwks, () => ({ keys: [...ed.jwks.keys, ...es.jwks.keys] }));
  app = await buildExampleApp({ infra: { db, bus, kv, logger: logs.logger }, logger: logs.logger });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  if (kv) {
    if (createdKeys.length > 0) await kv.del(...createdKeys);
    await kv.close();
  }
  await db?.close();
  await database?.drop();
});

const createdKeys: string[] = [];
async function revoke(key: string, value: string) {
  createdKeys.push(key);
  await kv.set(key, value, { ttlMs: 60_000 });
}

async function get(token: string | undefined) {
  return app.inject({
    method: 'GET',
    url: '/v1/things/1',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

function expectUnauthorized(res: Awaited<ReturnType<typeof get>>) {
  expect(res.statusCode).toBe(401);
  expect(res.json()).toEqual({
    error: { code: 'unauthorized', message: expect.any(String), requestId: res.headers['x-request-id'] },
  });
  expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
}

describe('authenticated routes', () => {
  it.each(['EdDSA', 'ES256'] as const)('accept a valid %s token and know the caller', async (alg) => {
    const userId = randomUUID();
    const sessionId = randomUUID();
    const res = await get(await (alg === 'EdDSA' ? ed : es).sign({ userId, sessionId }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: 1, auth: { userId, sessionId } });
  });

  it('fetched the keys from the auth service over the bus, once', () => {
    expect(bus.requests.filter((r) => r.subject === RPC.authJwks)).toHaveLength(1);
  });

  it('refuse a request without a token, or with another scheme', async () => {
    expectUnauthorized(await get(undefined));
    const basic = await app.inject({ method: 'GET', url: '/v1/things/1', headers: { authorization: 'Basic YTpi' } });
    expect(basic.statusCode).toBe(401);
  });

  it('refuse alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = base64url.encode(
      JSON.stringify({ sub: randomUUID(), sid: 's', iat: now, exp: now + 900, iss: 'parley', aud: 'parley' }),
    );
    expectUnauthorized(await get(`${header}.${payload}.`));
  });

  it('refuse HS256 signed with the public key', async () => {
    const token = await new SignJWT({ sid: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', kid: ed.kid })
      .setSubject(randomUUID())
      .setIssuedAt()
      .setExpirationTime('15m')
      .setIssuer('parley')
      .setAudience('parley')
      .sign(new TextEncoder().encode(JSON.stringify(ed.jwks.keys[0])));
    expectUnauthorized(await get(token));
  });

  it.each([
    ['a wrong issuer', { issuer: 'someone-else' }],
    ['a wrong audience', { audience: 'another-app' }],
    ['an expiry in the past', { expiresInSec: -30 }],
  ])('refuse a token with %s', async (_name, claims) => {
    expectUnauthorized(await get(await ed.sign({ userId: randomUUID(), ...claims })));
  });

  it('refuse an altered payload', async () => {
    const [h, p, s] = (await ed.sign({ userId: randomUUID() })).split('.');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
    const altered = base64url.encode(JSON.stringify({ ...claims, sub: randomUUID() }));
    expectUnauthorized(await get(`${h}.${altered}.${s}`));
  });

  it('refuse a token signed by an unknown key', async () => {
    expectUnauthorized(await get(await stranger.sign({ userId: randomUUID() })));
  });

  it('refuse a token of a revoked session at once, and keep other sessions working', async () => {
    const userId = randomUUID();
    const sessionId = randomUUID();
    const token = await ed.sign({ userId, sessionId });
    expect((await get(token)).statusCode).toBe(200);
    await revoke(revokedSessionKey(sessionId), '1');
    expectUnauthorized(await get(token));
    expect((await get(await ed.sign({ userId, sessionId: randomUUID() }))).statusCode).toBe(200);
  });

  it('refuse every token issued to a deleted user before the deletion', async () => {
    const userId = randomUUID();
    const tokens = await Promise.all([
      ed.sign({ userId, iat: Math.floor(Date.now() / 1000) - 60 }),
      es.sign({ userId, iat: Math.floor(Date.now() / 1000) - 1 }),
    ]);
    for (const token of tokens) expect((await get(token)).statusCode).toBe(200);
    await revoke(revokedUserKey(userId), String(Date.now()));
    for (const token of tokens) expectUnauthorized(await get(token));
    // Other users are not affected.
    expect((await get(await ed.sign({ userId: randomUUID() }))).statusCode).toBe(200);
  });

  it('never log the token', () => {
    expect(logs.text()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });
});

describe('public routes and probes', () => {
  it('need no token', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/public/closed' })).statusCode).toBe(409);
  });
});

describe('when the auth service cannot be asked for keys', () => {
  it('answers 503 unavailable (retry is safe), not 401', async () => {
    const lonelyBus = createFakeBus();
    const other = await buildExampleApp({ infra: { db, bus: lonelyBus, kv, logger: logs.logger } });
    try {
      const res = await other.inject({
        method: 'GET',
        url: '/v1/things/1',
        headers: { authorization: `Bearer ${await ed.sign({ userId: randomUUID() })}` },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('unavailable');
    } finally {
      await other.close();
    }
  });
});

describe('with auth turned off', () => {
  it('routes answer without a token and request.auth is null', async () => {
    const open = await buildExampleApp({ infra: { db, bus, kv, logger: logs.logger }, auth: false });
    try {
      const res = await open.inject({ method: 'GET', url: '/v1/things/1' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ id: 1, auth: null });
    } finally {
      await open.close();
    }
  });
});
