/**
 * `/docs` (Swagger UI), `/docs/openapi.json` and `/docs/asyncapi.json`.
 * The documents are built once at boot from the route table and the frame
 * schemas; @fastify/swagger runs in static mode over the aggregated document.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { buildAsyncApiDocument } from './asyncapi';
import { buildOpenApiDocument } from './openapi';

const VERSION = '1.0.0';

export async function docsRoutes(app: FastifyInstance): Promise<void> {
  // The UI's own routes (registered by the plugin) are public documentation too.
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), public: true };
  });
  const openapi = buildOpenApiDocument({ version: VERSION });
  const asyncapi = buildAsyncApiDocument({ version: VERSION });
  await app.register(swagger, { mode: 'static', specification: { document: openapi as never } });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    uiConfig: { deepLinking: true },
    uiHooks: {},
  });
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => openapi);
  app.get('/docs/asyncapi.json', { schema: { hide: true } }, async () => asyncapi);
}
