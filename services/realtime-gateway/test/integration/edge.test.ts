/**
 * The REST edge against real Redis and NATS: proxying with request ids,
 * 503 for a service that is down, the shared rate limits (per IP, per user,
 * 404s counted, shared by two gateways), CORS and security headers, docs and
 * the protected /metrics.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { newId } from '@parley/service-kit';
import { createTestInfra, requireServers, type TestInfra } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_MD_ROUTES, listedRoutes } from '../factories/api-md-routes';
import { createTestKeys, type RunningGateway, siblingInfra, startGateway, type TestKeys, withOwnKeys } from '../helper';

let infra: TestInfra;
let keys: TestKeys;
let upstream: Server;
let upstreamUrl: string;
const seen: { method: string; url: string; headers: Record<string, unknown>; body: string }[] = [];
const gateways: RunningGateway[] = [];
const closers: (() => Promise<void>)[] = [];

/** A stand-in service that echoes what reached it. */
function startEchoService(): Promise<void> {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(req.method === 'POST' ? 201 : 200, {
        'content-type': 'application/json',
        'x-request-id': String(req.headers['x-request-id'] ?? ''),
      });
      res.end(JSON.stringify({ echoed: true }));
    });
  });
  return new Promise((resolve) =>
    upstream.listen(0, '127.0.0.1', () => {
      upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

/** A gateway with its own rate-limit counters (every test calls from 127.0.0.1). */
async function gateway(env: Record<string, string> = {}) {
  const all = {
    AUTH_URL: upstreamUrl,
    CONVERSATION_URL: upstreamUrl,
    MESSAGE_URL: upstreamUrl,
    NOTIFICATION_URL: upstreamUrl,
    HISTORY_URL: upstreamUrl,
    ...env,
  };
  const own = withOwnKeys(infra, newId());
  closers.push(() => own.close());
  const g = await startGateway(own, all, { authKeys: keys.jwks });
  gateways.push(g);
  return g;
}

beforeAll(async () => {
  if (!(await requireServers(['postgres', 'nats', 'redis']))) return;
  infra = await createTestInfra({ service: 'gateway-edge' });
  keys = await createTestKeys();
  await startEchoService();
});

afterAll(async () => {
  for (const g of gateways) await g.close();
  for (const c of closers) await c();
  await new Promise((r) => upstream?.close(r));
  await infra?.close();
});

describe('proxying', () => {
  it('forwards the path, query, body, token and request id to the owning service unchanged', async () => {
    const g = await gateway();
    const token = await keys.sign(newId());
    const conv = newId();
    const res = await fetch(`${g.url}/v1/conversations/${conv}/messages?x=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': 'trace-me.1' },
      body: JSON.stringify({ clientMessageId: newId(), content: 'hi' }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe('trace-me.1');
    const hit = seen.at(-1)!;
    expect(hit.url).toBe(`/v1/conversations/${conv}/messages?x=1`);
    expect(hit.headers.authorization).toBe(`Bearer ${token}`);
    expect(hit.headers['x-request-id']).toBe('trace-me.1');
    expect(JSON.parse(hit.body)).toMatchObject({ content: 'hi' });
  });

  it('passes odd query strings to the owner as they came instead of failing at the edge', async () => {
    const g = await gateway();
    const token = await keys.sign(newId());
    // A malformed percent escape used to crash the proxy's URL builder (500 internal),
    // and a search for "../" was refused as path traversal.
    for (const query of ['cursor=%%%', 'q=..%2Fetc%2Fpasswd', 'query=a/../b']) {
      const res = await fetch(`${g.url}/v1/users?${query}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(seen.at(-1)!.url).toBe(`/v1/users?${query}`);
    }
  });

  it('answers 503 unavailable in the API error shape when the owner is down', async () => {
    const g = await gateway({ NOTIFICATION_URL: 'http://127.0.0.1:9', UPSTREAM_TIMEOUT_MS: '1000' });
    const res = await fetch(`${g.url}/v1/notifications`, { headers: { 'x-request-id': 'down-1' } });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('unavailable');
    expect(body.error.requestId).toBe('down-1');
  });

  it('answers an unknown route 404 not_found', async () => {
    const g = await gateway();
    const res = await fetch(`${g.url}/v1/nothing/here`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});

describe('rate limits', () => {
  it('limits anonymous callers per IP, 404s included, with RateLimit-* and Retry-After', async () => {
    const g = await gateway({ RATE_LIMIT_ANON_PER_MIN: '3' });
    const first = await fetch(`${g.url}/v1/users`);
    expect(first.headers.get('ratelimit-limit')).toBe('3');
    expect(first.headers.get('ratelimit-remaining')).toBe('2');
    await fetch(`${g.url}/v1/no-such-route`);
    await fetch(`${g.url}/v1/no-such-route`);
    const limited = await fetch(`${g.url}/v1/users`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('ratelimit-reset')).toBeTruthy();
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');

    // A verified user has their own budget; a token that does not verify counts as anonymous.
    const user = await fetch(`${g.url}/v1/users`, { headers: { authorization: `Bearer ${await keys.sign(newId())}` } });
    expect(user.status).toBe(200);
    const forged = await fetch(`${g.url}/v1/users`, { headers: { authorization: 'Bearer forged.token.here' } });
    expect(forged.status).toBe(429);
  });

  it('limits a user across gateway replicas (shared store)', async () => {
    const other = await siblingInfra(infra);
    try {
      const a = await startGateway(
        infra,
        { RATE_LIMIT_USER_PER_MIN: '4', AUTH_URL: upstreamUrl, CONVERSATION_URL: upstreamUrl },
        { authKeys: keys.jwks },
      );
      gateways.push(a);
      const b = await startGateway(
        other,
        { RATE_LIMIT_USER_PER_MIN: '4', AUTH_URL: upstreamUrl, CONVERSATION_URL: upstreamUrl },
        { authKeys: keys.jwks },
      );
      gateways.push(b);
      const headers = { authorization: `Bearer ${await keys.sign(newId())}` };
      const statuses: number[] = [];
      for (const g of [a, b, a, b, a]) statuses.push((await fetch(`${g.url}/v1/conversations`, { headers })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429]);
    } finally {
      await other.close();
    }
  });

  it('keys anonymous callers by the client address only behind trusted proxies', async () => {
    const g = await gateway({ RATE_LIMIT_ANON_PER_MIN: '1', TRUST_PROXY: 'false' });
    const a = await fetch(`${g.url}/v1/users`, { headers: { 'x-forwarded-for': '203.0.113.1' } });
    const spoofed = await fetch(`${g.url}/v1/users`, { headers: { 'x-forwarded-for': '203.0.113.2' } });
    expect([a.status, spoofed.status]).toEqual([200, 429]);
    const trusting = await gateway({ RATE_LIMIT_ANON_PER_MIN: '1', TRUST_PROXY: '127.0.0.1' });
    const c1 = await fetch(`${trusting.url}/v1/users`, { headers: { 'x-forwarded-for': '203.0.113.3' } });
    const c2 = await fetch(`${trusting.url}/v1/users`, { headers: { 'x-forwarded-for': '203.0.113.4' } });
    expect([c1.status, c2.status]).toEqual([200, 200]);
  });
});

describe('headers, docs and metrics', () => {
  it('sets security headers and answers CORS only for listed origins', async () => {
    const g = await gateway({ CORS_ORIGINS: 'https://app.example' });
    const ok = await fetch(`${g.url}/v1/users`, { headers: { origin: 'https://app.example' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    const other = await fetch(`${g.url}/v1/users`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${g.url}/v1/conversations`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('serves the docs UI, an OpenAPI 3.1 document listing every API.md route, and AsyncAPI 3', async () => {
    const g = await gateway();
    const ui = await fetch(`${g.url}/docs`);
    expect(ui.status).toBe(200);
    const openapi = (await (await fetch(`${g.url}/docs/openapi.json`)).json()) as Record<string, unknown>;
    expect(openapi.openapi).toBe('3.1.0');
    expect(listedRoutes(openapi)).toEqual(expect.arrayContaining(API_MD_ROUTES));
    const asyncapi = (await (await fetch(`${g.url}/docs/asyncapi.json`)).json()) as Record<string, unknown>;
    expect(asyncapi.asyncapi).toBe('3.0.0');
  });

  it('serves the web client at / beside the API when WEB_ROOT is set', async () => {
    const root = mkdtempSync(join(tmpdir(), 'parley-web-'));
    try {
      writeFileSync(join(root, 'index.html'), '<!doctype html><title>Parley</title>');
      writeFileSync(join(root, 'app.js'), 'console.log(1)');
      const g = await gateway({ WEB_ROOT: root });
      const page = await fetch(`${g.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Parley</title>');
      expect((await fetch(`${g.url}/app.js`)).status).toBe(200);
      const missing = await fetch(`${g.url}/nothing.js`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
      expect((await fetch(`${g.url}/docs/openapi.json`)).status).toBe(200);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('keeps /metrics off the public port unless the caller holds the metrics token', async () => {
    const g = await gateway({ METRICS_TOKEN: 'a-long-metrics-token-123' });
    expect((await fetch(`${g.url}/metrics`)).status).toBe(401);
    const res = await fetch(`${g.url}/metrics`, { headers: { authorization: 'Bearer a-long-metrics-token-123' } });
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const name of [
      'ws_connections_open',
      'ws_frames_in_total',
      'ws_delivery_latency_seconds',
      'ws_slow_consumer_closes_total',
    ]) {
      expect(text).toContain(name);
    }
    const open = await gateway();
    const remote = await open.app.inject({ url: '/metrics', remoteAddress: '198.51.100.7' });
    expect(remote.statusCode).toBe(401);
  });
});
