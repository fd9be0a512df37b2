/**
 * The REST edge: every `/v1` route of API.md proxied unchanged to the service
 * that owns it, over keep-alive pooled HTTP (undici through
 * @fastify/reply-from). The body is streamed through untouched (the owning
 * service validates it and answers the documented errors); the request id is
 * forwarded; an upstream that is down or silent answers 503 `unavailable`
 * quickly instead of hanging the caller.
 */
import replyFrom from '@fastify/reply-from';
import { notFound, unavailable } from '@parley/service-kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type GatewayConfig, type ServiceName, serviceUrls } from '../config';
import { ROUTES } from './route-table';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The service that owns a proxied route. */
    upstream?: ServiceName;
  }
}

export interface EdgeOptions {
  config: GatewayConfig;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

export async function edgeRoutes(app: FastifyInstance, opts: EdgeOptions): Promise<void> {
  const { config } = opts;
  const urls = serviceUrls(config);

  // Bodies are piped to the owner as they came: the gateway never re-encodes them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  await app.register(replyFrom, {
    undici: {
      connections: 128,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connectTimeout: config.UPSTREAM_CONNECT_TIMEOUT_MS,
      headersTimeout: config.UPSTREAM_TIMEOUT_MS,
      bodyTimeout: config.UPSTREAM_TIMEOUT_MS,
    },
    disableRequestLogging: true,
  });

  const upstreamOf = (request: { routeOptions: FastifyRequest['routeOptions'] }): string => {
    const service = request.routeOptions.config.upstream;
    if (!service) throw notFound();
    return urls[service];
  };

  for (const route of ROUTES) {
    app.route({
      method: route.method,
      url: route.path,
      config: { public: true, upstream: route.service },
      handler(request, reply) {
        // Only the path goes through reply-from's URL builder, which percent-decodes
        // what it is given and throws on a malformed escape (a 500) or rejects any
        // `../` (a search for "../" is a legitimate query). The raw query string is
        // appended untouched by reply-from itself, and the owner validates it.
        const raw = request.raw.url ?? '/';
        const q = raw.indexOf('?');
        return reply.from(q >= 0 ? raw.slice(0, q) : raw, {
          getUpstream: upstreamOf,
          // Retrying is the client's call (API.md: 503 means retry is safe).
          retryDelay: () => null,
          rewriteRequestHeaders: (req, headers) => {
            const out: Record<string, string | string[] | undefined> = { ...headers };
            out['x-request-id'] = req.requestId;
            out['x-forwarded-for'] = req.clientIp || req.ip;
            out['x-forwarded-proto'] = req.protocol;
            return out;
          },
          rewriteHeaders: (headers) => {
            const out: Record<string, string | string[] | undefined> = { ...headers };
            for (const h of HOP_BY_HOP) delete out[h];
            return out;
          },
          // reply-from already logged the cause; the error handler logs the 503.
          onError: (r) => {
            r.send(unavailable(`${route.service} service is unavailable`));
          },
        });
      },
    });
  }

  // Unknown paths are answered here (not by the not-found handler) so the
  // rate limit counts them too (PITFALLS: 404s are not limited otherwise).
  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/*',
    config: { public: true },
    handler: async () => {
      throw notFound('no such route');
    },
  });
}
