import { sql } from 'drizzle-orm';
import { RPC } from '@parley/contracts';
import { type KeyValue, KeyValueUnavailableError } from '@parley/service-kit';
import { requireServers } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { bearer, registerUser } from '../factories/users';
import {
  buildTestContext,
  collectEvents,
  eventually,
  expectNoSecretsLogged,
  storedEventCount,
  type TestContext,
} from '../helper';

await requireServers(['postgres', 'nats', 'redis']);

let ctx: TestContext;
beforeAll(async () => {
  ctx = await buildTestContext();
});
afterAll(async () => {
  try {
    await expectNoSecretsLogged(ctx);
  } finally {
    await ctx?.close();
  }
});

const del = (token: string, password: string, app = ctx.app) => {
  ctx.secrets.add(password);
  return app.inject({ method: 'DELETE', url: '/v1/users/me', headers: bearer(token), payload: { password } });
};

describe('DELETE /v1/users/me', () => {
  it('refuses a wrong password and keeps the account', async () => {
    const user = await registerUser(ctx);
    const res = await del(user.accessToken, `${user.password}!`);
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('invalid_credentials');
    expect((await ctx.app.inject({ url: '/v1/users/me', headers: bearer(user.accessToken) })).statusCode).toBe(200);
  });

  it('needs the password field', async () => {
    const user = await registerUser(ctx);
    const res = await ctx.app.inject({
      method: 'DELETE',
      url: '/v1/users/me',
      headers: bearer(user.accessToken),
      payload: {},
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].field).toBe('password');
  });

  it('ends every session, erases the account and publishes user.deleted and session.revoked', async () => {
    const deleted = collectEvents<{ userId: string }>(ctx, 'user.deleted');
    const revoked = collectEvents<{ userId: string; sessionId: string; reason: string }>(ctx, 'session.revoked');
    const user = await registerUser(ctx);
    const second = await ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: user.email, password: user.password },
    });
    ctx.secrets.add(second.json().accessToken);
    ctx.secrets.add(second.json().refreshToken);
    const observer = await registerUser(ctx);

    expect((await del(user.accessToken, user.password)).statusCode).toBe(204);

    // Tokens of every session stop working, here and in every service's verifier; refresh and login fail.
    for (const token of [user.accessToken, second.json().accessToken]) {
      expect((await ctx.app.inject({ url: '/v1/users/me', headers: bearer(token) })).statusCode).toBe(401);
      await expect(ctx.app.verifyAccessToken(token)).rejects.toMatchObject({ statusCode: 401 });
    }
    for (const refreshToken of [user.refreshToken, second.json().refreshToken]) {
      const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } });
      expect(res.statusCode).toBe(401);
    }
    const login = await ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: user.email, password: user.password },
    });
    expect(login.statusCode).toBe(401);

    // Others see 404; RPC leaves the user out; search does not find them.
    expect(
      (await ctx.app.inject({ url: `/v1/users/${user.id}`, headers: bearer(observer.accessToken) })).statusCode,
    ).toBe(404);
    const rpc = await ctx.infra.bus.request<{ users: unknown[] }>(
      RPC.authUsers,
      { ids: [user.id] },
      { timeoutMs: 2000 },
    );
    expect(rpc.users).toEqual([]);

    // No personal data is left.
    const [row] = await ctx.infra.db.rows<Record<string, unknown>>(
      sql`select email, name, avatar_url, status_text, password_hash, deleted_at from auth.users where id = ${user.id}`,
    );
    expect(row).toMatchObject({ email: null, name: null, avatar_url: null, status_text: null, password_hash: null });
    expect(row!.deleted_at).not.toBeNull();

    const event = await eventually(() => deleted.events.find((e) => e.data.data.userId === user.id));
    expect(event.subject).toBe(`user.${user.id}.deleted`);
    const ended = await eventually(() => {
      const mine = revoked.events.filter((e) => e.data.data.userId === user.id);
      return mine.length === 2 ? mine : undefined;
    });
    expect(ended.map((e) => e.data.data.reason)).toEqual(['account_deleted', 'account_deleted']);
    deleted.stop();
    revoked.stop();

    // The address can be registered again, as a new account.
    const again = await registerUser(ctx, { email: user.email });
    expect(again.id).not.toBe(user.id);
  });

  it('publishes exactly one user.deleted even when the process dies right after the commit', async () => {
    const user = await registerUser(ctx);
    // A replica whose relay never runs stands for a process killed between COMMIT and publish.
    const doomed = await ctx.buildAnother({ relay: false });
    expect((await del(user.accessToken, user.password, doomed)).statusCode).toBe(204);
    await doomed.close();
    const pending = await ctx.infra.db.rows<{ n: number }>(
      sql`select count(*)::int as n from auth.outbox where type = 'user.deleted' and published_at is null
          and payload->'data'->>'userId' = ${user.id}`,
    );
    expect(pending[0]!.n).toBe(1);
    expect(await storedEventCount(ctx, `user.${user.id}.deleted`)).toBe(0);

    // The next process to start publishes it, once.
    const revived = await ctx.buildAnother();
    await eventually(async () => ((await storedEventCount(ctx, `user.${user.id}.deleted`)) === 1 ? true : undefined));
    await eventually(async () => {
      const rows = await ctx.infra.db.rows<{ n: number }>(
        sql`select count(*)::int as n from auth.outbox where published_at is null`,
      );
      return rows[0]!.n === 0 ? true : undefined;
    });
    // Another restart publishes nothing more.
    await revived.close();
    const third = await ctx.buildAnother();
    await third.close();
    expect(await storedEventCount(ctx, `user.${user.id}.deleted`)).toBe(1);
  });

  it('revokes the tokens from the committed event when the process died before writing the revocation keys', async () => {
    const user = await registerUser(ctx);
    const other = await registerUser(ctx);
    const kvWithoutWrites: KeyValue = {
      ...ctx.infra.kv,
      set: async () => {
        throw new KeyValueUnavailableError();
      },
    };
    const doomed = await buildApp(ctx.config, { ...ctx.infra, kv: kvWithoutWrites }, { relay: false });
    try {
      expect((await del(user.accessToken, user.password, doomed)).statusCode).toBe(204);
    } finally {
      await doomed.close();
    }
    // What every other service checks: the token's signature and the revocation keys.
    // The doomed process wrote no key, so the token is still valid until the
    // running replica's relay publishes the committed event (it may already
    // have, on its sweep): a token refused now must come from that event.
    const early = await ctx.app.verifyAccessToken(user.accessToken).then(
      (v) => v,
      (err: { statusCode?: number }) => err,
    );
    if ('userId' in early) expect(early.userId).toBe(user.id);
    else {
      expect(early.statusCode).toBe(401);
      expect(await storedEventCount(ctx, `user.${user.id}.deleted`)).toBe(1);
    }
    // The running replica's relay publishes the event and its consumer writes the keys.
    await eventually(() =>
      ctx.app.verifyAccessToken(user.accessToken).then(
        () => undefined,
        (err: { statusCode?: number }) => (err.statusCode === 401 ? true : undefined),
      ),
    );
    await expect(ctx.app.verifyAccessToken(other.accessToken)).resolves.toMatchObject({ userId: other.id });
  });
});
