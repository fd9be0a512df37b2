/** /v1/notifications routes: thin handlers over the notification service. All need an access token. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { unauthorized, refuseBodyFields } from '@parley/service-kit';
import type { FastifyRequest } from 'fastify';
import {
  Notification,
  NotificationIdParams,
  NotificationListQuery,
  NotificationPage,
  ReadAllBody,
  ReadAllResult,
  UnreadCount,
} from './notification.schemas';
import type { NotificationService } from './notification.service';

function callerId(request: FastifyRequest): string {
  if (!request.auth) throw unauthorized();
  return request.auth.userId;
}

export const notificationRoutes: FastifyPluginAsyncTypebox<{ notifications: NotificationService }> = async (
  app,
  { notifications },
) => {
  app.get(
    '/v1/notifications',
    { schema: { querystring: NotificationListQuery, response: { 200: NotificationPage } } },
    async (request) => notifications.list(callerId(request), request.query),
  );

  app.get('/v1/notifications/unread-count', { schema: { response: { 200: UnreadCount } } }, async (request) => ({
    count: await notifications.unreadCount(callerId(request)),
  }));

  app.post(
    '/v1/notifications/:id/read',
    { schema: { params: NotificationIdParams, response: { 200: Notification } }, preHandler: refuseBodyFields },
    async (request) => notifications.markRead(callerId(request), request.params.id),
  );

  app.post(
    '/v1/notifications/read-all',
    {
      schema: { body: ReadAllBody, response: { 200: ReadAllResult } },
      // `{ conversationId? }` is optional as a whole: no body is the same as `{}`.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request) => notifications.markAllRead(callerId(request), request.body.conversationId),
  );
};
