import { type Static, Type } from '@sinclair/typebox';
import { NullableTimestamp, Timestamp, Uuid } from './common';

export const PublicUser = Type.Object({
  id: Uuid,
  name: Type.String(),
  avatarUrl: Type.Union([Type.String(), Type.Null()]),
  statusText: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
});
export type PublicUser = Static<typeof PublicUser>;

export const User = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  avatarUrl: Type.Union([Type.String(), Type.Null()]),
  statusText: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
});
export type User = Static<typeof User>;

export const AuthTokens = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer(),
});
export type AuthTokens = Static<typeof AuthTokens>;

export const AuthResult = Type.Object({
  user: User,
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer(),
});
export type AuthResult = Static<typeof AuthResult>;

export { NullableTimestamp };
