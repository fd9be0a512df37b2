import { type KeyValue, KeyValueUnavailableError } from '@parley/service-kit';
import { requireServers } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { bearer, registerUser, uniqueEmail } from '../factories/users';
import { buildTestContext, expectNoSecretsLogged, type TestContext } from '../helper';

await requireServers(['postgres', 'nats', 'redis']);

let ctx: TestContext;
beforeAll(async () => {
  // The gateway in front reports the client address; only it is trusted to.
  ctx = await buildTestContext({ TRUST_PROXY: '127.0.0.1' });
});
afterAll(async () => {
  try {
    await expectNoSecretsLogged(ctx);
  } finally {
    await ctx?.close();
  }
});

let ipCounter = 0;
/** A fresh client address per test, so tests do not share the per-IP budget. */
const newIp = () => `198.51.100.${++ipCounter}`;

async function login(email: string, password: string, clientIp: string, app = ctx.app) {
  ctx.secrets.add(password);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    headers: { 'x-forwarded-for': clientIp },
    remoteAddress: '127.0.0.1',
    payload: { email, password },
  });
  if (res.statusCode === 200) {
    ctx.secrets.add(res.json().accessToken);
    ctx.secrets.add(res.json().refreshToken);
  }
  return res;
}

describe('POST /v1/auth/login', () => {
  it('opens a new session with the register shape, e-mail in any case', async () => {
    const user = await registerUser(ctx);
    const res = await login(user.email.toUpperCase(), user.password, newIp());
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user']);
    expect(body.user).toMatchObject({ id: user.id, email: user.email });
    expect(body.refreshToken).not.toBe(user.refreshToken);
    expect(res.headers['ratelimit-limit']).toBe('10');
    expect(Number(res.headers['ratelimit-remaining'])).toBeLessThan(10);
    const me = await ctx.app.inject({ url: '/v1/users/me', headers: bearer(body.accessToken) });
    expect(me.statusCode).toBe(200);
    // Both sessions live side by side.
    expect((await ctx.app.inject({ url: '/v1/users/me', headers: bearer(user.accessToken) })).statusCode).toBe(200);
  });

  it('answers the same 401 invalid_credentials for an unknown e-mail and a wrong password', async () => {
    const user = await registerUser(ctx);
    const wrong = await login(user.email, `${user.password}x`, newIp());
    const unknown = await login(uniqueEmail('nobody'), user.password, newIp());
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    const strip = (b: { error: Record<string, unknown> }) => ({ ...b.error, requestId: undefined });
    expect(strip(wrong.json())).toEqual(strip(unknown.json()));
    expect(wrong.json().error.code).toBe('invalid_credentials');
  });

  it('refuses the 11th attempt for one e-mail within a minute with 429 and rate-limit headers', async () => {
    const user = await registerUser(ctx);
    for (let i = 1; i <= 10; i++) {
      const res = await login(user.email, `wrong-password-${i}`, newIp());
      expect(res.statusCode).toBe(401);
      expect(res.headers['ratelimit-remaining']).toBe(String(10 - i));
    }
    const eleventh = await login(user.email, user.password, newIp());
    expect(eleventh.statusCode).toBe(429);
    expect(eleventh.json().error.code).toBe('rate_limited');
    const retryAfter = Number(eleventh.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(eleventh.headers['ratelimit-limit']).toBe('10');
    expect(eleventh.headers['ratelimit-remaining']).toBe('0');
    expect(Number(eleventh.headers['ratelimit-reset'])).toBe(retryAfter);
    // Throttling is not a lockout of the account from elsewhere in time: other e-mails are unaffected.
    const other = await registerUser(ctx);
    expect((await login(other.email, other.password, newIp())).statusCode).toBe(200);
  });

  it('refuses the 11th attempt from one IP within a minute, across e-mails', async () => {
    const ip = newIp();
    for (let i = 1; i <= 10; i++) expect((await login(uniqueEmail('spray'), 'guess-guess-1', ip)).statusCode).toBe(401);
    const user = await registerUser(ctx);
    expect((await login(user.email, user.password, ip)).statusCode).toBe(429);
    expect((await login(user.email, user.password, newIp())).statusCode).toBe(200);
  });

  it('does not trust X-Forwarded-For from an untrusted peer', async () => {
    const user = await registerUser(ctx);
    const attempt = () =>
      ctx.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        headers: { 'x-forwarded-for': newIp() },
        remoteAddress: '203.0.113.50',
        payload: { email: uniqueEmail('spoof'), password: 'wrong-wrong-wrong' },
      });
    for (let i = 0; i < 10; i++) expect((await attempt()).statusCode).toBe(401);
    // A new spoofed address each time did not help: the peer itself is counted.
    expect((await attempt()).statusCode).toBe(429);
    expect((await login(user.email, user.password, newIp())).statusCode).toBe(200);
  });

  it('fails closed (503) when the key-value store cannot count attempts', async () => {
    const user = await registerUser(ctx);
    const broken: KeyValue = {
      ...ctx.infra.kv,
      incr: async () => {
        throw new KeyValueUnavailableError();
      },
    };
    const app = await buildApp(ctx.config, { ...ctx.infra, kv: broken }, { relay: false });
    try {
      const res = await login(user.email, user.password, newIp(), app);
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('unavailable');
    } finally {
      await app.close();
    }
  });

  it('validates the body', async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'a@b.co' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([expect.objectContaining({ field: 'password', code: 'required' })]);
  });
});
