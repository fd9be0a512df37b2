import { createHmac } from 'node:crypto';
import { RPC } from '@parley/contracts';
import { requireServers } from '@parley/service-kit/testing';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { createKeyEncryption } from '../../src/keys/key-encryption';
import { createSigningKeyRepository } from '../../src/keys/signing-key.repository';
import { createSigningKeyRing, type SigningKey } from '../../src/keys/signing-key.service';
import { bearer, registerUser } from '../factories/users';
import {
  buildTestContext,
  collectEvents,
  eventually,
  expectNoSecretsLogged,
  TEST_KEY_SECRET,
  type TestContext,
} from '../helper';

await requireServers(['postgres', 'nats', 'redis']);

let ctx: TestContext;
let signing: SigningKey;
beforeAll(async () => {
  ctx = await buildTestContext();
  // The same stored key the service signs with (tests forge tokens with it).
  signing = await createSigningKeyRing({
    repository: createSigningKeyRepository(ctx.infra.db),
    encryption: createKeyEncryption(TEST_KEY_SECRET),
    rotationDays: 30,
    tokenLifetimeSeconds: 900,
  }).signingKey();
});
afterAll(async () => {
  try {
    await expectNoSecretsLogged(ctx);
  } finally {
    await ctx?.close();
  }
});

async function refresh(refreshToken: string) {
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } });
  if (res.statusCode === 200) {
    ctx.secrets.add(res.json().accessToken);
    ctx.secrets.add(res.json().refreshToken);
  }
  return res;
}
const me = (token: string) => ctx.app.inject({ url: '/v1/users/me', headers: bearer(token) });
const track = (token: string) => {
  ctx.secrets.add(token);
  return token;
};

describe('access tokens', () => {
  it('are EdDSA JWTs with kid, sub, sid, iat, exp (15 min), iss and aud', async () => {
    const user = await registerUser(ctx);
    const [h, p] = user.accessToken.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    expect(header).toMatchObject({ alg: 'EdDSA', kid: signing.kid });
    expect(payload).toMatchObject({ sub: user.id, iss: 'parley', aud: 'parley' });
    expect(payload.sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.exp - payload.iat).toBe(900);
  });

  it('are signed with a stored key that only the configured secret decrypts (start refuses another secret)', async () => {
    await expect(
      buildApp({ ...ctx.config, AUTH_KEY_ENCRYPTION_SECRET: 'another-secret-of-enough-length-0123456789' }, ctx.infra),
    ).rejects.toThrow(/AUTH_KEY_ENCRYPTION_SECRET/);
  });

  it('are verifiable with the published JWKS (HTTP and RPC)', async () => {
    const http = await ctx.app.inject({ url: '/v1/auth/jwks.json' });
    expect(http.statusCode).toBe(200);
    const keys = http.json().keys;
    expect(keys).toEqual([
      { kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: signing.kid, alg: 'EdDSA', use: 'sig' },
    ]);
    const rpc = await ctx.infra.bus.request<{ keys: unknown[] }>(RPC.authJwks, {}, { timeoutMs: 2000 });
    expect(rpc.keys).toEqual(keys);
  });

  describe('forged or invalid tokens are rejected with 401', () => {
    let userId: string;
    let sessionId: string;
    let valid: string;
    beforeAll(async () => {
      const user = await registerUser(ctx);
      userId = user.id;
      valid = user.accessToken;
      sessionId = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString()).sid;
    });

    const sign = (claims: { iss?: string; aud?: string; iat?: number; exp?: number }) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: 'EdDSA', kid: signing.kid })
        .setSubject(userId)
        .setIssuer(claims.iss ?? 'parley')
        .setAudience(claims.aud ?? 'parley')
        .setIssuedAt(claims.iat ?? now)
        .setExpirationTime(claims.exp ?? now + 900)
        .sign(signing.privateKey)
        .then(track);
    };
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const payload = () => JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString());

    it('accepts the genuine token and one signed by the same key with the right claims', async () => {
      expect((await me(valid)).statusCode).toBe(200);
      expect((await me(await sign({}))).statusCode).toBe(200);
    });

    it('alg none', async () => {
      const token = track(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload())}.`);
      const res = await me(token);
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    });

    it('HS256 signed with the public key', async () => {
      const jwk = (await ctx.app.inject({ url: '/v1/auth/jwks.json' })).json().keys[0];
      const signingInput = `${b64({ alg: 'HS256', typ: 'JWT', kid: signing.kid })}.${b64(payload())}`;
      for (const secret of [Buffer.from(jwk.x, 'base64url'), Buffer.from(JSON.stringify(jwk)), Buffer.from(jwk.x)]) {
        const sig = createHmac('sha256', secret).update(signingInput).digest('base64url');
        expect((await me(track(`${signingInput}.${sig}`))).statusCode).toBe(401);
      }
    });

    it('wrong issuer', async () => {
      expect((await me(await sign({ iss: 'someone-else' }))).statusCode).toBe(401);
    });

    it('wrong audience', async () => {
      expect((await me(await sign({ aud: 'another-app' }))).statusCode).toBe(401);
    });

    it('expired', async () => {
      const past = Math.floor(Date.now() / 1000) - 3600;
      expect((await me(await sign({ iat: past, exp: past + 900 }))).statusCode).toBe(401);
    });

    it('an altered payload', async () => {
      const other = await registerUser(ctx);
      const [h, , s] = valid.split('.');
      const altered = track(`${h}.${b64({ ...payload(), sub: other.id })}.${s}`);
      expect((await me(altered)).statusCode).toBe(401);
    });

    it('missing or malformed bearer', async () => {
      expect((await ctx.app.inject({ url: '/v1/users/me' })).statusCode).toBe(401);
      expect((await me('not.a.jwt')).statusCode).toBe(401);
    });
  });
});

describe('refresh', () => {
  it('rotates: a new pair each time, the presented token is spent', async () => {
    const user = await registerUser(ctx);
    const first = await refresh(user.refreshToken);
    expect(first.statusCode).toBe(200);
    const body = first.json();
    expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken']);
    expect(body.refreshToken).not.toBe(user.refreshToken);
    expect(body.expiresIn).toBe(900);
    expect((await me(body.accessToken)).statusCode).toBe(200);

    const second = await refresh(body.refreshToken);
    expect(second.statusCode).toBe(200);
    expect((await me(second.json().accessToken)).statusCode).toBe(200);
  });

  it('stores refresh tokens only as hashes', async () => {
    const user = await registerUser(ctx);
    const { sql } = await import('drizzle-orm');
    const rows = await ctx.infra.db.rows<{ token_hash: string }>(sql`select token_hash from auth.refresh_tokens`);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.some((r) => r.token_hash === user.refreshToken)).toBe(false);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true);
  });

  it('reuse of a spent token ends the whole session: the newest refresh token and the access tokens fail', async () => {
    const revoked = collectEvents<{ sessionId: string; reason: string }>(ctx, 'session.revoked');
    const user = await registerUser(ctx);
    const rotated = (await refresh(user.refreshToken)).json();
    const newest = (await refresh(rotated.refreshToken)).json();
    expect((await me(newest.accessToken)).statusCode).toBe(200);

    const reuse = await refresh(user.refreshToken);
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().error.code).toBe('unauthorized');

    expect((await refresh(newest.refreshToken)).statusCode).toBe(401);
    expect((await me(newest.accessToken)).statusCode).toBe(401);
    expect((await me(user.accessToken)).statusCode).toBe(401);

    const sid = JSON.parse(Buffer.from(newest.accessToken.split('.')[1], 'base64url').toString()).sid;
    const event = await eventually(() => revoked.events.find((e) => e.data.data.sessionId === sid));
    expect(event.data.data.reason).toBe('refresh_reuse');
    expect(event.subject).toBe(`session.${user.id}.revoked`);
    revoked.stop();
  });

  it('a reuse does not touch the user’s other sessions', async () => {
    const user = await registerUser(ctx);
    const login = await ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: user.email, password: user.password },
    });
    const other = login.json();
    ctx.secrets.add(other.accessToken);
    ctx.secrets.add(other.refreshToken);
    await refresh(user.refreshToken);
    expect((await refresh(user.refreshToken)).statusCode).toBe(401);
    expect((await me(other.accessToken)).statusCode).toBe(200);
    expect((await refresh(other.refreshToken)).statusCode).toBe(200);
  });

  it('refuses an expired refresh token', async () => {
    const user = await registerUser(ctx);
    const { sql } = await import('drizzle-orm');
    const sid = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()).sid;
    await ctx.infra.db.rows(
      sql`update auth.refresh_tokens set expires_at = now() - interval '1 second' where session_id = ${sid}`,
    );
    const res = await refresh(user.refreshToken);
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('unauthorized');
  });

  it('refuses unknown tokens and bad bodies', async () => {
    expect((await refresh('definitely-not-a-token')).statusCode).toBe(401);
    const bad = await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { token: 'x' } });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .error.details.map((d: { field: string }) => d.field)
        .sort(),
    ).toEqual(['refreshToken', 'token']);
  });

  it('two refreshes racing with one token: one wins, and the reuse ends the session', async () => {
    const user = await registerUser(ctx);
    const [a, b] = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken)]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 401]);
    const winner = a.statusCode === 200 ? a.json() : b.json();
    expect((await refresh(winner.refreshToken)).statusCode).toBe(401);
  });
});

describe('logout', () => {
  it('ends the session: 204, refresh fails, its access token is refused, session.revoked published', async () => {
    const revoked = collectEvents<{ sessionId: string; reason: string }>(ctx, 'session.revoked');
    const user = await registerUser(ctx);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(user.accessToken),
      payload: { refreshToken: user.refreshToken },
    });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect((await me(user.accessToken)).statusCode).toBe(401);
    expect((await refresh(user.refreshToken)).statusCode).toBe(401);

    const sid = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()).sid;
    const event = await eventually(() => revoked.events.find((e) => e.data.data.sessionId === sid));
    expect(event.data.data.reason).toBe('logout');
    revoked.stop();
  });

  it('other services see the revocation: the kit verifier on another app refuses the token', async () => {
    const user = await registerUser(ctx);
    const replica = await ctx.buildAnother();
    expect((await replica.inject({ url: '/v1/users/me', headers: bearer(user.accessToken) })).statusCode).toBe(200);
    await ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(user.accessToken),
      payload: { refreshToken: user.refreshToken },
    });
    expect((await replica.inject({ url: '/v1/users/me', headers: bearer(user.accessToken) })).statusCode).toBe(401);
  });

  it('needs the access token of the token’s owner', async () => {
    const owner = await registerUser(ctx);
    const stranger = await registerUser(ctx);
    const anonymous = await ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      payload: { refreshToken: owner.refreshToken },
    });
    expect(anonymous.statusCode).toBe(401);
    const foreign = await ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(stranger.accessToken),
      payload: { refreshToken: owner.refreshToken },
    });
    expect(foreign.statusCode).toBe(401);
    expect((await me(owner.accessToken)).statusCode).toBe(200);
  });
});
