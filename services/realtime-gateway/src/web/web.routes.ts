/**
 * Serves the built web client (packages/web, bundled into WEB_ROOT) at `/`.
 * Public: the page itself holds no data; everything it shows comes through
 * the authenticated API. The client's own CSP is strict (same origin only).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

const CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data: https:",
  "style-src 'self'",
  "script-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export async function webRoutes(app: FastifyInstance, opts: { root: string }): Promise<void> {
  if (!existsSync(join(opts.root, 'index.html'))) {
    app.log.warn({ root: opts.root }, 'web client not built: / is not served (pnpm --filter @parley/web build)');
    return;
  }
  // The page and its assets need no token (routes are authenticated by default).
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), public: true };
  });
  await app.register(fastifyStatic, {
    root: opts.root,
    prefix: '/',
    index: ['index.html'],
    wildcard: false,
    decorateReply: false,
    setHeaders: (res, path) => {
      if (path.endsWith('.html')) {
        res.setHeader('content-security-policy', CSP);
        res.setHeader('cache-control', 'no-cache');
      } else {
        res.setHeader('cache-control', 'public, max-age=300');
      }
    },
  });
}
