/** GET /v1/messages/:id/history and GET /v1/search/messages: thin handlers. Both need an access token. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { unauthorized } from '@parley/service-kit';
import type { FastifyRequest } from 'fastify';
import { SearchPage, SearchQuery } from '../search/search.schemas';
import type { SearchService } from '../search/search.service';
import { HistoryPage, HistoryQuery, MessageIdParams } from './history.schemas';
import type { HistoryService } from './history.service';

function callerId(request: FastifyRequest): string {
  if (!request.auth) throw unauthorized();
  return request.auth.userId;
}

export const historyRoutes: FastifyPluginAsyncTypebox<{ history: HistoryService; search: SearchService }> = async (
  app,
  { history, search },
) => {
  app.get(
    '/v1/messages/:id/history',
    { schema: { params: MessageIdParams, querystring: HistoryQuery, response: { 200: HistoryPage } } },
    async (request) => history.history(callerId(request), request.params.id, request.query),
  );

  app.get(
    '/v1/search/messages',
    { schema: { querystring: SearchQuery, response: { 200: SearchPage } } },
    async (request) => search.search(callerId(request), request.query),
  );
};
