import { refuseBodyFields } from '@parley/service-kit';
/**
 * HTTP routes of API.md "Conversations": schemas in, thin handlers that call
 * the service and map the result. Every route is authenticated (the kit's
 * auth plugin) and every input validated by its TypeBox schema.
 */
import { ErrorBody } from '@parley/contracts';
import type { ServiceApp } from '@parley/service-kit';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { LifecycleAction } from './conversation.policy';
import {
  AddMembersBody,
  AddMembersResponse,
  ConversationPage,
  ConversationParams,
  ConversationResponse,
  CreateConversationBody,
  ListConversationsQuery,
  MemberPage,
  MemberParams,
  MemberResponse,
  PublicConversationsQuery,
  UpdateConversationBody,
  UpdateMemberBody,
  UpdateMyMembershipBody,
} from './conversation.schemas';
import type { ConversationService } from './conversation.service';
import { PageQuery } from '@parley/contracts';

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  503: ErrorBody,
};

/** The authenticated caller (the kit's auth hook guarantees it on these routes). */
const caller = (request: FastifyRequest): string => request.auth!.userId;

export function registerConversationRoutes(app: ServiceApp, service: ConversationService): void {
  const tags = ['conversations'];

  app.post(
    '/v1/conversations',
    {
      schema: {
        tags,
        body: CreateConversationBody,
        response: { 200: ConversationResponse, 201: ConversationResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { conversation, created } = await service.create(caller(request), request.body);
      return reply.code(created ? 201 : 200).send(conversation);
    },
  );

  app.get(
    '/v1/conversations',
    { schema: { tags, querystring: ListConversationsQuery, response: { 200: ConversationPage, ...errors } } },
    async (request) => service.list(caller(request), request.query),
  );

  app.get(
    '/v1/conversations/public',
    { schema: { tags, querystring: PublicConversationsQuery, response: { 200: ConversationPage, ...errors } } },
    async (request) => service.listPublic(caller(request), request.query),
  );

  app.get(
    '/v1/conversations/:id',
    { schema: { tags, params: ConversationParams, response: { 200: ConversationResponse, ...errors } } },
    async (request) => service.get(caller(request), request.params.id),
  );

  app.patch(
    '/v1/conversations/:id',
    {
      schema: {
        tags,
        params: ConversationParams,
        body: UpdateConversationBody,
        response: { 200: ConversationResponse, ...errors },
      },
    },
    async (request) => service.update(caller(request), request.params.id, request.body),
  );

  for (const action of ['close', 'archive', 'reopen'] as const satisfies LifecycleAction[]) {
    app.post(
      `/v1/conversations/:id/${action}`,
      {
        schema: { tags, params: ConversationParams, response: { 200: ConversationResponse, ...errors } },
        preHandler: refuseBodyFields,
      },
      async (request) => service.transition(caller(request), request.params.id, action),
    );
  }

  app.post(
    '/v1/conversations/:id/join',
    {
      schema: { tags, params: ConversationParams, response: { 200: ConversationResponse, ...errors } },
      preHandler: refuseBodyFields,
    },
    async (request) => service.join(caller(request), request.params.id),
  );

  app.get(
    '/v1/conversations/:id/members',
    { schema: { tags, params: ConversationParams, querystring: PageQuery, response: { 200: MemberPage, ...errors } } },
    async (request) => service.listMembers(caller(request), request.params.id, request.query),
  );

  app.post(
    '/v1/conversations/:id/members',
    {
      schema: {
        tags,
        params: ConversationParams,
        body: AddMembersBody,
        response: { 200: AddMembersResponse, ...errors },
      },
    },
    async (request) => service.addMembers(caller(request), request.params.id, request.body.userIds),
  );

  app.patch(
    '/v1/conversations/:id/members/me',
    {
      schema: {
        tags,
        params: ConversationParams,
        body: UpdateMyMembershipBody,
        response: { 200: ConversationResponse, ...errors },
      },
    },
    async (request) => service.updateMyMembership(caller(request), request.params.id, request.body.notifications),
  );

  app.patch(
    '/v1/conversations/:id/members/:userId',
    { schema: { tags, params: MemberParams, body: UpdateMemberBody, response: { 200: MemberResponse, ...errors } } },
    async (request) =>
      service.updateMember(caller(request), request.params.id, request.params.userId.toLowerCase(), request.body),
  );

  // `me` is accepted as the caller's own id for leaving.
  app.delete(
    '/v1/conversations/:id/members/me',
    {
      schema: { tags, params: ConversationParams, response: { 204: Type.Null(), ...errors } },
      preHandler: refuseBodyFields,
    },
    async (request, reply) => {
      await service.removeMember(caller(request), request.params.id, caller(request));
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/v1/conversations/:id/members/:userId',
    {
      schema: { tags, params: MemberParams, response: { 204: Type.Null(), ...errors } },
      preHandler: refuseBodyFields,
    },
    async (request, reply) => {
      await service.removeMember(caller(request), request.params.id, request.params.userId.toLowerCase());
      return reply.code(204).send(null);
    },
  );
}
