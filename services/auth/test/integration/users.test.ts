import { RPC } from '@parley/contracts';
import { requireServers } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, type RegisteredUser, registerUser, uniqueEmail } from '../factories/users';
import { buildTestContext, collectEvents, eventually, expectNoSecretsLogged, type TestContext } from '../helper';

await requireServers(['postgres', 'nats', 'redis']);

let ctx: TestContext;
let ada: RegisteredUser;
beforeAll(async () => {
  ctx = await buildTestContext();
  ada = await registerUser(ctx, { name: 'Ada Lovelace' });
});
afterAll(async () => {
  try {
    await expectNoSecretsLogged(ctx);
  } finally {
    await ctx?.close();
  }
});

const get = (url: string, user: RegisteredUser = ada) => ctx.app.inject({ url, headers: bearer(user.accessToken) });
const patch = (payload: unknown, user: RegisteredUser = ada) =>
  ctx.app.inject({
    method: 'PATCH',
    url: '/v1/users/me',
    headers: bearer(user.accessToken),
    payload: payload as object,
  });

describe('GET /v1/users/me', () => {
  it('returns the caller with e-mail', async () => {
    const res = await get('/v1/users/me');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      id: ada.id,
      email: ada.email,
      name: 'Ada Lovelace',
      avatarUrl: null,
      statusText: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
  });

  it('needs a token', async () => {
    expect((await ctx.app.inject({ url: '/v1/users/me' })).statusCode).toBe(401);
  });
});

describe('PATCH /v1/users/me', () => {
  it('changes name, avatar and status, and publishes user.updated without the e-mail', async () => {
    const user = await registerUser(ctx, { name: 'Grace Hopper' });
    const updated = collectEvents<{ user: Record<string, unknown> }>(ctx, 'user.updated');
    const res = await patch(
      { name: 'Grace B Hopper', avatarUrl: 'https://cdn.example.com/g.png', statusText: 'compiling' },
      user,
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: user.id,
      email: user.email,
      name: 'Grace B Hopper',
      avatarUrl: 'https://cdn.example.com/g.png',
      statusText: 'compiling',
    });
    expect((await get('/v1/users/me', user)).json().statusText).toBe('compiling');
    const event = await eventually(() => updated.events.find((e) => e.data.data.user.id === user.id));
    expect(event.data.data.user).toMatchObject({ name: 'Grace B Hopper', statusText: 'compiling' });
    expect(event.data.data.user).not.toHaveProperty('email');

    const cleared = await patch({ avatarUrl: null, statusText: null }, user);
    expect(cleared.json()).toMatchObject({ avatarUrl: null, statusText: null, name: 'Grace B Hopper' });
    updated.stop();
  });

  it('lists every invalid field', async () => {
    const res = await patch({
      name: 'X1',
      avatarUrl: 'javascript:alert(1)',
      statusText: 's'.repeat(141),
      email: 'x@y.z',
    });
    expect(res.statusCode).toBe(400);
    expect(
      res
        .json()
        .error.details.map((d: { field: string }) => d.field)
        .sort(),
    ).toEqual(['avatarUrl', 'email', 'name', 'statusText']);
    expect((await get('/v1/users/me')).json().name).toBe('Ada Lovelace');
  });

  it('answers 400 (not 500) for NUL characters, which Postgres cannot store', async () => {
    const res = await patch({ statusText: 'a\u0000b' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([
      expect.objectContaining({ field: 'statusText', code: 'invalid_characters' }),
    ]);
    expect((await patch({ statusText: 'lone \udc00' })).statusCode).toBe(400);
    const search = await get('/v1/users?query=a%00b');
    expect(search.statusCode).toBe(400);
    expect(search.json().error.details[0].field).toBe('query');
    const login = await ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'a\u0000@example.com', password: 'whatever-it-is' },
    });
    expect(login.statusCode).toBe(400);
  });
});

describe('GET /v1/users/:id', () => {
  it('returns the public user to others (no e-mail), the full user to the user', async () => {
    const other = await registerUser(ctx, { name: 'Alan Turing' });
    const seen = await get(`/v1/users/${ada.id}`, other);
    expect(seen.statusCode).toBe(200);
    expect(seen.json()).toMatchObject({ id: ada.id, name: 'Ada Lovelace' });
    expect(seen.json()).not.toHaveProperty('email');
    expect((await get(`/v1/users/${ada.id}`)).json().email).toBe(ada.email);
  });

  it('answers 404 for an unknown id and 400 for a malformed one', async () => {
    expect((await get('/v1/users/0190f3a2-7b1c-7d2e-8f00-000000000000')).statusCode).toBe(404);
    const bad = await get('/v1/users/not-a-uuid');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details[0].field).toBe('id');
  });
});

describe('GET /v1/users?query=', () => {
  let viewer: RegisteredUser;
  const tag = `zq${Date.now().toString(36)}`;
  beforeAll(async () => {
    viewer = await registerUser(ctx, { name: 'Viewer Person' });
    for (const name of ['Marie Curie', 'Marius Petipa', 'Mary Shelley', 'Emmy Noether']) {
      await registerUser(ctx, { name, email: uniqueEmail(`${tag}-${name.split(' ')[0]!.toLowerCase()}`) });
    }
  });

  it('finds users by prefix of the name or of a word in it, case-insensitively, without e-mails', async () => {
    const res = await get('/v1/users?query=MAR', viewer);
    expect(res.statusCode).toBe(200);
    const names = res.json().items.map((u: { name: string }) => u.name);
    expect(names).toEqual(['Marie Curie', 'Marius Petipa', 'Mary Shelley']);
    for (const item of res.json().items) expect(item).not.toHaveProperty('email');
    expect(res.json().nextCursor).toBeNull();
    expect((await get('/v1/users?query=noeth', viewer)).json().items.map((u: { name: string }) => u.name)).toEqual([
      'Emmy Noether',
    ]);
  });

  it('finds users by e-mail prefix', async () => {
    const res = await get(`/v1/users?query=${tag}-emmy`, viewer);
    expect(res.json().items.map((u: { name: string }) => u.name)).toEqual(['Emmy Noether']);
  });

  it('treats LIKE wildcards literally', async () => {
    expect((await get('/v1/users?query=%25', viewer)).json().items).toEqual([]);
    expect((await get('/v1/users?query=_', viewer)).json().items).toEqual([]);
  });

  it('pages with an opaque cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/users?query=ma&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await get(url, viewer);
      expect(res.statusCode).toBe(200);
      expect(res.json().items.length).toBeLessThanOrEqual(1);
      seen.push(...res.json().items.map((u: { name: string }) => u.name));
      cursor = res.json().nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(['Marie Curie', 'Marius Petipa', 'Mary Shelley']);
  });

  it('validates limit and cursor', async () => {
    expect((await get('/v1/users?limit=0', viewer)).statusCode).toBe(400);
    expect((await get('/v1/users?limit=201', viewer)).statusCode).toBe(400);
    const bad = await get('/v1/users?cursor=garbage', viewer);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details[0].field).toBe('cursor');
  });
});

describe('RPC.authUsers', () => {
  it('answers public users for known ids and leaves unknown ones out', async () => {
    const reply = await ctx.infra.bus.request<{ users: Record<string, unknown>[] }>(
      RPC.authUsers,
      { ids: [ada.id, '0190f3a2-7b1c-7d2e-8f00-000000000000'] },
      { timeoutMs: 2000 },
    );
    expect(reply.users).toEqual([expect.objectContaining({ id: ada.id, name: 'Ada Lovelace' })]);
    expect(reply.users[0]).not.toHaveProperty('email');
  });

  it('rejects a malformed request', async () => {
    await expect(ctx.infra.bus.request(RPC.authUsers, { ids: 'nope' }, { timeoutMs: 2000 })).rejects.toThrow(/invalid/);
  });
});
