/**
 * Request and response schemas of the /v1/auth routes (API.md, Auth and
 * users). Field rules a schema cannot express (common passwords, letters in
 * names, password confirmation) are in users/user.rules.ts and reported
 * together with these.
 */
import { AuthResult, AuthTokens } from '@parley/contracts';
import { Type } from '@sinclair/typebox';
import { EMAIL_MAX, NAME_MAX, NAME_MIN, PASSWORD_MAX, PASSWORD_MIN } from '../users/user.rules';

export const RegisterBody = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: EMAIL_MAX }),
    password: Type.String({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX }),
    passwordConfirm: Type.String({ maxLength: PASSWORD_MAX }),
    name: Type.String({ minLength: NAME_MIN, maxLength: NAME_MAX }),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: EMAIL_MAX }),
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX }),
  },
  { additionalProperties: false },
);

export const RefreshTokenBody = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);

export const PublicJwk = Type.Object({
  kty: Type.String(),
  crv: Type.Optional(Type.String()),
  x: Type.Optional(Type.String()),
  y: Type.Optional(Type.String()),
  kid: Type.String(),
  alg: Type.String(),
  use: Type.String(),
});
export const JwksResponse = Type.Object({ keys: Type.Array(PublicJwk) });

export { AuthResult, AuthTokens };
