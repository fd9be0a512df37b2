/**
 * Named errors of the auth service (codes prefixed AUTH_*), each mapped by
 * the kit's error handler to the documented API error shape.
 */
import { defineError } from '@parley/service-kit';

export const EmailTakenError = defineError('AUTH_EMAIL_TAKEN', 'conflict', 'this e-mail address is already registered');
export const RefreshTokenInvalidError = defineError(
  'AUTH_REFRESH_TOKEN_INVALID',
  'unauthorized',
  'the refresh token is invalid, expired or its session has ended',
);
export const RefreshTokenReusedError = defineError(
  'AUTH_REFRESH_TOKEN_REUSED',
  'unauthorized',
  'the refresh token was already used; the session has been ended',
);
export const AccountGoneError = defineError('AUTH_ACCOUNT_GONE', 'unauthorized', 'the account no longer exists');
