/**
 * Environment of the auth service, validated once at boot
 * (`loadConfig(AuthConfig)`); nothing else reads `process.env`.
 */
import { baseServiceConfig } from '@parley/service-kit';
import { type Static, Type } from '@sinclair/typebox';

export const AuthOwnConfig = Type.Object({
  /**
   * Secret (at least 32 characters, e.g. 32 random bytes in base64) from which
   * the AES-256-GCM key that encrypts the private signing keys at rest is
   * derived. Unset: a secret is generated once and kept in
   * `<DATA_DIR>/auth-key-encryption.secret` with a warning (development only:
   * every replica must share the same secret).
   */
  AUTH_KEY_ENCRYPTION_SECRET: Type.Optional(Type.String({ minLength: 32, maxLength: 1024 })),
  /** Age after which the signing key is replaced; the previous one stays in the JWKS until its tokens expired. */
  AUTH_KEY_ROTATION_DAYS: Type.Number({ exclusiveMinimum: 0, maximum: 3650, default: 30 }),
  /** Lifetime of a refresh token (each refresh issues a new one with a new lifetime). */
  AUTH_REFRESH_TOKEN_DAYS: Type.Number({ exclusiveMinimum: 0, maximum: 365, default: 30 }),
  /**
   * Proxies trusted to report the client address in X-Forwarded-For (the
   * gateway): `false`, `true`, a hop count or comma-separated addresses/CIDRs.
   * Login throttling counts per client address, so set it behind the gateway.
   */
  TRUST_PROXY: Type.String({ maxLength: 1024, default: 'false' }),
  /** Login attempts per minute per client IP and per e-mail address. */
  RATE_LIMIT_LOGIN_PER_MIN: Type.Integer({ minimum: 1, maximum: 100_000, default: 10 }),
});

export const AuthConfig = Type.Composite([baseServiceConfig({ port: 3001 }), AuthOwnConfig]);
export type AuthConfig = Static<typeof AuthConfig>;
