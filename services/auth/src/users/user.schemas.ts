/** Request and response schemas of the /v1/users routes (API.md, Auth and users). */
import { Page, PageQuery, PublicUser, User, Uuid } from '@parley/contracts';
import { Type } from '@sinclair/typebox';
import { NAME_MAX, PASSWORD_MAX } from './user.rules';
import { AVATAR_URL_MAX, STATUS_TEXT_MAX } from './user.service';

export const PatchMeBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: NAME_MAX })),
    avatarUrl: Type.Optional(Type.Union([Type.String({ format: 'uri', maxLength: AVATAR_URL_MAX }), Type.Null()])),
    statusText: Type.Optional(Type.Union([Type.String({ maxLength: STATUS_TEXT_MAX }), Type.Null()])),
  },
  { additionalProperties: false },
);

export const DeleteMeBody = Type.Object(
  { password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX }) },
  { additionalProperties: false },
);

export const UserIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const UserListQuery = Type.Object(
  {
    query: Type.Optional(Type.String({ maxLength: 254 })),
    ...PageQuery.properties,
  },
  { additionalProperties: false },
);

/** A user as a caller sees them: with `email` only when it is the caller. */
export const UserView = Type.Object({
  ...PublicUser.properties,
  email: Type.Optional(Type.String()),
});
export const UserPage = Page(UserView);

export { PublicUser, User };
