/** /v1/users routes: thin handlers over the user service. All need an access token. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { unauthorized } from '@parley/service-kit';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { assertValidFields, bodyFields } from '../field-problems';
import { DeleteMeBody, PatchMeBody, User, UserIdParams, UserListQuery, UserPage, UserView } from './user.schemas';
import { profileProblems, type UserService } from './user.service';

function callerId(request: FastifyRequest): string {
  if (!request.auth) throw unauthorized();
  return request.auth.userId;
}

export const userRoutes: FastifyPluginAsyncTypebox<{ users: UserService }> = async (app, { users }) => {
  app.get('/v1/users/me', { schema: { response: { 200: User } } }, async (request) => users.me(callerId(request)));

  app.patch(
    '/v1/users/me',
    { attachValidation: true, schema: { body: PatchMeBody, response: { 200: User } } },
    async (request) => {
      const fields = bodyFields(request.body);
      assertValidFields(
        request,
        profileProblems({
          name: typeof fields.name === 'string' ? fields.name : undefined,
          avatarUrl: typeof fields.avatarUrl === 'string' ? fields.avatarUrl : undefined,
          statusText: typeof fields.statusText === 'string' ? fields.statusText : undefined,
        }),
      );
      return users.updateMe(callerId(request), request.body);
    },
  );

  app.delete(
    '/v1/users/me',
    { schema: { body: DeleteMeBody, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await users.deleteMe(callerId(request), request.body.password);
      return reply.code(204).send(null);
    },
  );

  app.get('/v1/users', { schema: { querystring: UserListQuery, response: { 200: UserPage } } }, async (request) =>
    users.search(callerId(request), {
      query: request.query.query,
      limit: request.query.limit ?? 50,
      cursor: request.query.cursor,
    }),
  );

  app.get('/v1/users/:id', { schema: { params: UserIdParams, response: { 200: UserView } } }, async (request) =>
    users.get(callerId(request), request.params.id),
  );
};
