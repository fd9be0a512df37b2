/**
 * The realtime gateway: the single public entry of Parley. It proxies every
 * `/v1` REST route of API.md to its owning service, applies the shared rate
 * limits, CORS and security headers, serves the aggregated docs, and runs the
 * WebSocket protocol with interest-based delivery of events from NATS.
 * It owns no durable data (presence lives in the key-value store).
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import { bearerToken, createServiceApp, type Infra, type JWKSource, unauthorized } from '@parley/service-kit';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { type GatewayConfig, originPolicyOf } from './config';
import { docsRoutes } from './docs/docs.routes';
import { clientIpResolver } from './edge/client-ip';
import { edgeRoutes } from './edge/edge.routes';
import { registerRateLimits } from './edge/rate-limit';
import { PresenceRepository } from './realtime/presence.repository';
import { realtimeMetrics } from './realtime/realtime.metrics';
import { RealtimeProtocol } from './realtime/realtime.protocol';
import { realtimeRoutes } from './realtime/realtime.routes';
import { RealtimeHub } from './realtime/realtime.service';
import { webRoutes } from './web/web.routes';
import { UpstreamClient } from './realtime/upstream.client';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client address under TRUST_PROXY (the per-IP rate-limit key). */
    clientIp: string;
  }
}

export interface BuildOptions {
  /** Capturing logger for tests. */
  logger?: Logger;
  /** Token keys; default: the auth service's JWKS over the bus. */
  authKeys?: JWKSource;
}

export async function buildApp(config: GatewayConfig, infra: Infra, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = await createServiceApp({
    name: 'realtime-gateway',
    config,
    infra,
    logger: opts.logger,
    readiness: ['bus', 'kv'],
    auth: opts.authKeys ? { keys: opts.authKeys } : {},
  });

  // ---- ecosystem plugins -----------------------------------------------------
  await app.register(helmet, {
    global: true,
    // The API answers JSON; the docs UI sets its own CSP (swagger-ui staticCSP).
    contentSecurityPolicy: false,
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
  // CORS preflights carry no credentials: the plugin's OPTIONS route is public.
  app.addHook('onRoute', (route) => {
    if (route.method === 'OPTIONS') route.config = { ...(route.config ?? {}), public: true };
  });
  const corsPolicy = originPolicyOf(config.CORS_ORIGINS);
  await app.register(cors, {
    // Same-origin callers need no CORS headers: an empty list allows no other origin.
    origin: corsPolicy.any ? true : corsPolicy.origins.size > 0 ? [...corsPolicy.origins] : false,
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after'],
    maxAge: 600,
  });

  // ---- edge infrastructure: client address, metrics protection, caller identity, limits ----
  const resolveIp = clientIpResolver(config.TRUST_PROXY);
  app.decorateRequest('clientIp', '');
  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (request) => {
    request.clientIp = resolveIp(request.raw).ip;
    if (request.url === '/metrics' || request.url.startsWith('/metrics?')) {
      // Not for the public: a bearer token when METRICS_TOKEN is set, else loopback callers only.
      const token = bearerToken(request.headers.authorization);
      const allowed = config.METRICS_TOKEN
        ? token === config.METRICS_TOKEN
        : isLoopback(request.raw.socket.remoteAddress) && request.headers['x-forwarded-for'] === undefined;
      if (!allowed) throw unauthorized('metrics are not public');
    }
  });
  // Verified here only to key the limit per user; the owning service verifies again (defence in depth).
  app.addHook('preHandler', async (request) => {
    // The WebSocket upgrade is not rate limited here and its protocol verifies
    // the token itself: verifying it here too would double the connection cost.
    if (request.routeOptions.url === '/v1/ws') return;
    const token = bearerToken(request.headers.authorization);
    if (!token) return;
    try {
      const v = await app.verifyAccessToken(token);
      request.caller = { userId: v.userId, sessionId: v.sessionId };
    } catch {
      request.caller = null;
    }
  });
  await registerRateLimits(app, config, infra.kv);

  // ---- realtime ----------------------------------------------------------------
  const metrics = realtimeMetrics(app.metrics);
  const upstream = new UpstreamClient(config);
  const presence = new PresenceRepository(infra.kv, config.WS_HEARTBEAT_MS * 2 + 1000);
  const hub = new RealtimeHub({ config, infra, logger: app.log as unknown as Logger, metrics, presence, upstream });
  const protocol = new RealtimeProtocol({
    config,
    hub,
    presence,
    upstream,
    metrics,
    logger: app.log as unknown as Logger,
    verify: (token) => app.verifyAccessToken(token),
  });
  hub.start();
  app.addHook('onClose', async () => upstream.close());
  await app.register(realtimeRoutes, { config, hub, protocol, metrics });

  // ---- routes --------------------------------------------------------------------
  await app.register(docsRoutes);
  await app.register(edgeRoutes, { config });
  if (config.WEB_ROOT) await app.register(webRoutes, { root: config.WEB_ROOT });
  return app;
}

function isLoopback(addr: string | undefined): boolean {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';
}
