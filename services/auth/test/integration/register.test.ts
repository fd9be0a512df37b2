import { requireServers } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, uniqueEmail } from '../factories/users';
import { buildTestContext, collectEvents, eventually, expectNoSecretsLogged, type TestContext } from '../helper';

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

const good = () => {
  const password = 'a sturdy passphrase 42';
  return { email: uniqueEmail(), password, passwordConfirm: password, name: 'Grace Hopper' };
};

async function register(payload: unknown) {
  const body = payload as Record<string, unknown>;
  if (typeof body?.password === 'string') ctx.secrets.add(body.password);
  return ctx.app.inject({ method: 'POST', url: '/v1/auth/register', payload: payload as object });
}

function fields(res: { json(): { error: { details?: { field: string }[] } } }) {
  return (res.json().error.details ?? []).map((d) => d.field).sort();
}

describe('POST /v1/auth/register', () => {
  it('creates the account, opens a session and publishes user.created', async () => {
    const created = collectEvents<{ user: Record<string, unknown> }>(ctx, 'user.created');
    const input = good();
    const res = await register({ ...input, email: input.email.toUpperCase() });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    ctx.secrets.add(body.accessToken);
    ctx.secrets.add(body.refreshToken);
    expect(body.user).toMatchObject({ email: input.email, name: 'Grace Hopper', avatarUrl: null, statusText: null });
    expect(body.user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(body.expiresIn).toBe(900);
    expect(typeof body.refreshToken).toBe('string');
    expect(body.user).not.toHaveProperty('passwordHash');

    const me = await ctx.app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${body.accessToken}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json().id).toBe(body.user.id);

    const event = await eventually(() => created.events.find((e) => e.data.data.user.id === body.user.id));
    expect(event.subject).toBe(`user.${body.user.id}.created`);
    expect(event.data.data.user).not.toHaveProperty('email');
    created.stop();
  });

  it('answers 409 for an e-mail already registered in any letter case', async () => {
    const user = await registerUser(ctx);
    const res = await register({ ...good(), email: user.email.toUpperCase() });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('conflict');
  });

  it('lets only one of two simultaneous registrations of an address through', async () => {
    const email = uniqueEmail('race');
    const [a, b] = await Promise.all([
      register({ ...good(), email }),
      register({ ...good(), email: email.toUpperCase() }),
    ]);
    for (const r of [a, b]) if (r.statusCode === 201) ctx.secrets.add(r.json().refreshToken);
    expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409]);
  });

  it.each([
    ['malformed e-mail', { email: 'not-an-email' }, 'email'],
    ['e-mail without a dotted domain', { email: 'ada@localhost' }, 'email'],
    ['short password', { password: 'Zq8#vLp', passwordConfirm: 'Zq8#vLp' }, 'password'],
    [
      'password over 128 characters',
      { password: 'x'.repeat(129), passwordConfirm: 'x'.repeat(129) },
      'password,passwordConfirm',
    ],
    ['common password', { password: 'sunshine', passwordConfirm: 'sunshine' }, 'password'],
    ['common password in capitals', { password: 'FOOTBALL', passwordConfirm: 'FOOTBALL' }, 'password'],
    ['confirmation that differs', { passwordConfirm: 'something else entirely' }, 'passwordConfirm'],
    ['one-character name', { name: 'A' }, 'name'],
    ['65-character name', { name: 'a'.repeat(65) }, 'name'],
    ['name with digits', { name: 'R2D2 Droid' }, 'name'],
    ['name with one letter', { name: "A '-" }, 'name'],
    ['missing name', { name: undefined }, 'name'],
    ['wrong type', { email: 42 }, 'email'],
    ['unknown field', { admin: true }, 'admin'],
  ])('refuses a %s with 400 naming the field', async (_label, change, field) => {
    const res = await register({ ...good(), ...change });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
    expect(fields(res)).toEqual(field.split(','));
  });

  it('accepts names in any script, with combining marks, apostrophes and hyphens', async () => {
    for (const name of [
      'Łukasz Żółć',
      'Владимир Набоков',
      '李雷',
      'Nguyễn Thị Minh',
      "D'Arcy O'Neil-Smith",
      'Jose\u0301',
    ]) {
      const res = await register({ ...good(), name });
      expect(res.statusCode, name).toBe(201);
      ctx.secrets.add(res.json().refreshToken);
      expect(res.json().user.name).toBe(name.normalize('NFC'));
    }
  });

  it('lists every failing field at once, schema and rule problems together', async () => {
    const res = await register({
      email: 'nope',
      password: 'password1',
      passwordConfirm: 'password2',
      name: '42',
      extra: 1,
    });
    expect(res.statusCode).toBe(400);
    expect(fields(res)).toEqual(['email', 'extra', 'name', 'password', 'passwordConfirm']);
  });

  it('answers 400 bad_request for malformed JSON', async () => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('bad_request');
  });
});
