/**
 * Markers and receipts: `POST /v1/conversations/:id/read`, the extension
 * `POST /v1/conversations/:id/delivered` (same rules as read; what the
 * gateway's `delivered` frame calls), `GET /v1/messages/unread` and
 * `GET /v1/messages/:id/receipts`.
 */
import type { ServiceApp } from '@parley/service-kit';
import { caller, errorResponses } from '../messages/message.routes';
import { ConversationParams, MessageParams } from '../messages/message.schemas';
import { DeliveredResponse, MarkerBody, ReadResponse, Receipts, UnreadPage, UnreadQuery } from './receipt.schemas';
import type { ReceiptService } from './receipt.service';

export function registerReceiptRoutes(app: ServiceApp, service: ReceiptService): void {
  const tags = ['messages'];

  app.post(
    '/v1/conversations/:id/read',
    {
      schema: {
        tags,
        params: ConversationParams,
        body: MarkerBody,
        response: { 200: ReadResponse, ...errorResponses },
      },
    },
    async (request) => service.markRead(caller(request), request.params.id, request.body.seq),
  );

  app.post(
    '/v1/conversations/:id/delivered',
    {
      schema: {
        tags,
        params: ConversationParams,
        body: MarkerBody,
        response: { 200: DeliveredResponse, ...errorResponses },
      },
    },
    async (request) => service.markDelivered(caller(request), request.params.id, request.body.seq),
  );

  app.get(
    '/v1/messages/unread',
    { schema: { tags, querystring: UnreadQuery, response: { 200: UnreadPage, ...errorResponses } } },
    async (request) => service.unread(caller(request), request.query),
  );

  app.get(
    '/v1/messages/:id/receipts',
    { schema: { tags, params: MessageParams, response: { 200: Receipts, ...errorResponses } } },
    async (request) => service.receipts(caller(request), request.params.id),
  );
}
