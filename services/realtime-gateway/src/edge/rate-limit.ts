/**
 * The shared request limits of API.md at the edge, with @fastify/rate-limit:
 * per user once the access token verified, per IP before (anonymous), over a
 * store in the kit's KeyValue, so the counters are Redis when REDIS_URL is set
 * (shared by every gateway replica, under this deployment's key prefix) and
 * in memory in standalone mode, with one client and one prefix for both.
 *
 * The hook runs at preHandler, after `identifyCaller` (an earlier global
 * preHandler), so a verified user is keyed by id. When the store is down the
 * limit fails open (skipOnError): losing Redis degrades, it does not block.
 * Login throttling is the auth service's and message sends the message
 * service's; they apply behind this.
 */
import rateLimit from '@fastify/rate-limit';
import type { KeyValue } from '@parley/service-kit';
import { rateLimited } from '@parley/service-kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller of a proxied request, or null (anonymous or invalid token). */
    caller: { userId: string; sessionId: string } | null;
  }
}

type IncrCallback = (err: Error | null, res?: { current: number; ttl: number }) => void;

/** A @fastify/rate-limit store over the kit's KeyValue (fixed window per key). */
export function kvRateLimitStore(kv: KeyValue, namespace: string) {
  return class KvStore {
    incr(key: string, cb: IncrCallback, timeWindow = 60_000): void {
      kv.incr(`${namespace}${key}`, { ttlMs: timeWindow }).then(
        (r) => cb(null, { current: r.value, ttl: r.ttlMs > 0 ? r.ttlMs : timeWindow }),
        (err: Error) => cb(err),
      );
    }
    child(): KvStore {
      return new KvStore();
    }
  };
}

// The web client's own files are static and public: counting them would let a
// few page loads exhaust an office's anonymous budget. Unknown paths (404s)
// stay limited.
const UNLIMITED =
  /^\/(docs(\/|$|\?)|healthz|readyz|metrics|v1\/ws(\?|$)|(index\.html|app\.js(\.map)?|styles\.css|favicon\.svg)?(\?|$))/;

export function rateLimitKey(request: FastifyRequest): string {
  return request.caller ? `user:${request.caller.userId}` : `ip:${request.clientIp || request.ip}`;
}

export async function registerRateLimits(app: FastifyInstance, config: GatewayConfig, kv: KeyValue): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    store: kvRateLimitStore(kv, 'rl:'),
    skipOnError: true,
    timeWindow: 60_000,
    max: (_req: FastifyRequest, key: string) =>
      key.startsWith('user:') ? config.RATE_LIMIT_USER_PER_MIN : config.RATE_LIMIT_ANON_PER_MIN,
    keyGenerator: rateLimitKey,
    // Operations and documentation are not part of the public API budget.
    allowList: (req: FastifyRequest) => UNLIMITED.test(req.url),
    enableDraftSpec: true,
    errorResponseBuilder: (_req, ctx) => rateLimited(Math.max(1, Math.ceil(ctx.ttl / 1000))),
  });
}
