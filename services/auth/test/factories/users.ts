/** Test factories: accounts created through the public API. */
import { randomBytes } from 'node:crypto';
import type { TestContext } from '../helper';

export interface RegisteredUser {
  id: string;
  email: string;
  name: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

let counter = 0;

export function newPassword(): string {
  return `pw-${randomBytes(9).toString('base64url')}`;
}

export function uniqueEmail(label = 'user'): string {
  counter++;
  return `${label}.${counter}.${randomBytes(4).toString('hex')}@example.com`;
}

/** Registers a user (201 expected) and tracks its password and tokens as secrets. */
export async function registerUser(
  ctx: TestContext,
  overrides: { email?: string; name?: string; password?: string } = {},
): Promise<RegisteredUser> {
  const password = overrides.password ?? newPassword();
  const email = overrides.email ?? uniqueEmail();
  const name = overrides.name ?? 'Ada Lovelace';
  ctx.secrets.add(password);
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password, passwordConfirm: password, name },
  });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  const body = res.json();
  ctx.secrets.add(body.accessToken);
  ctx.secrets.add(body.refreshToken);
  return {
    id: body.user.id,
    email: body.user.email,
    name: body.user.name,
    password,
    accessToken: body.accessToken,
    refreshToken: body.refreshToken,
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
