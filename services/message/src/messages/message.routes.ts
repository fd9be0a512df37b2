/**
 * HTTP routes of API.md "Messages" (history and search are the history
 * service's): schemas in, thin handlers that call the service and map the
 * result. Every route is authenticated by the kit's auth plugin.
 */
import { ApiError, refuseBodyFields, type ServiceApp } from '@parley/service-kit';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import {
  ChangesQuery,
  ConversationParams,
  EditMessageBody,
  ErrorBody,
  ListMessagesQuery,
  Message,
  MessagePage,
  MessageParams,
  PageQuery,
  SendMessageBody,
  ThreadResponse,
} from './message.schemas';
import type { MessageService } from './message.service';

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
  503: ErrorBody,
};

/** The authenticated caller (the kit's auth hook guarantees it on these routes). */
export const caller = (request: FastifyRequest): string => request.auth!.userId;

export interface MessageRouteOptions {
  /** The send bucket's size (RATE_LIMIT_SEND_BURST), announced as RateLimit-Limit on a refused send. */
  sendBurst: number;
}

export function registerMessageRoutes(app: ServiceApp, service: MessageService, opts: MessageRouteOptions): void {
  const tags = ['messages'];

  app.post(
    '/v1/conversations/:id/messages',
    {
      schema: {
        tags,
        params: ConversationParams,
        body: SendMessageBody,
        response: { 200: Message, 201: Message, ...errorResponses },
      },
    },
    async (request, reply) => {
      try {
        const { message, created } = await service.send(caller(request), request.params.id, request.body);
        return reply.code(created ? 201 : 200).send(message);
      } catch (err) {
        // API.md: a rate limit answers RateLimit-* beside Retry-After. These describe the
        // send bucket and replace the gateway's request-budget headers on the way out.
        if (err instanceof ApiError && err.code === 'rate_limited') {
          reply.header('ratelimit-limit', String(opts.sendBurst));
          reply.header('ratelimit-remaining', '0');
          reply.header('ratelimit-reset', String(err.retryAfterSec ?? 1));
        }
        throw err;
      }
    },
  );

  app.get(
    '/v1/conversations/:id/messages',
    {
      schema: {
        tags,
        params: ConversationParams,
        querystring: ListMessagesQuery,
        response: { 200: MessagePage, ...errorResponses },
      },
    },
    async (request) => service.list(caller(request), request.params.id, request.query),
  );

  app.get(
    '/v1/conversations/:id/changes',
    {
      schema: {
        tags,
        params: ConversationParams,
        querystring: ChangesQuery,
        response: { 200: MessagePage, ...errorResponses },
      },
    },
    async (request) => service.changes(caller(request), request.params.id, request.query),
  );

  app.get(
    '/v1/messages/:id',
    { schema: { tags, params: MessageParams, response: { 200: Message, ...errorResponses } } },
    async (request) => service.get(caller(request), request.params.id),
  );

  app.patch(
    '/v1/messages/:id',
    {
      schema: { tags, params: MessageParams, body: EditMessageBody, response: { 200: Message, ...errorResponses } },
    },
    async (request) => service.edit(caller(request), request.params.id, request.body.content),
  );

  app.delete(
    '/v1/messages/:id',
    {
      schema: { tags, params: MessageParams, response: { 204: Type.Null(), ...errorResponses } },
      preHandler: refuseBodyFields,
    },
    async (request, reply) => {
      await service.remove(caller(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/messages/:id/thread',
    {
      schema: {
        tags,
        params: MessageParams,
        querystring: PageQuery,
        response: { 200: ThreadResponse, ...errorResponses },
      },
    },
    async (request) => service.thread(caller(request), request.params.id, request.query),
  );
}
