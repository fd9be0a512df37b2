import { sql } from 'drizzle-orm';
import { requireServers } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, registerUser } from '../factories/users';
import { buildTestContext, eventually, expectNoSecretsLogged, type TestContext } from '../helper';

await requireServers(['postgres', 'nats', 'redis']);

const ROTATION_SECONDS = 2;
let ctx: TestContext;
beforeAll(async () => {
  // Keys rotate every 2 s here, so a rotation happens during the test.
  ctx = await buildTestContext({ AUTH_KEY_ROTATION_DAYS: String(ROTATION_SECONDS / 86_400) });
});
afterAll(async () => {
  try {
    await expectNoSecretsLogged(ctx);
  } finally {
    await ctx?.close();
  }
});

const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;

describe('signing keys', () => {
  it('stores the private key encrypted', async () => {
    const rows = await ctx.infra.db.rows<{ public_jwk: Record<string, unknown>; private_key_encrypted: string }>(
      sql`select public_jwk, private_key_encrypted from auth.signing_keys`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.public_jwk).not.toHaveProperty('d');
      expect(row.private_key_encrypted).toMatch(/^v1\./);
      expect(row.private_key_encrypted).not.toContain('"d"');
    }
  });

  it('rotates: new tokens get the new key, tokens of the previous key stay valid and its key stays published', async () => {
    const before = await registerUser(ctx);
    const oldKid = kidOf(before.accessToken);
    const after = await eventually(async () => {
      const u = await registerUser(ctx);
      return kidOf(u.accessToken) !== oldKid ? u : undefined;
    }, 10_000);
    const newKid = kidOf(after.accessToken);

    const kids = (await ctx.app.inject({ url: '/v1/auth/jwks.json' })).json().keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect((await ctx.app.inject({ url: '/v1/users/me', headers: bearer(before.accessToken) })).statusCode).toBe(200);
    expect((await ctx.app.inject({ url: '/v1/users/me', headers: bearer(after.accessToken) })).statusCode).toBe(200);
  });
});
