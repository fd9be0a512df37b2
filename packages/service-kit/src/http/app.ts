/**
 * `createServiceApp`: the Fastify instance every service starts from, so a
 * service is mostly routes and domain code. It owns the cross-cutting rules
 * of API.md: request ids, the error shape, validation, body limits, logging
 * without secrets, health/readiness/metrics, and authentication by default.
 * It never listens (see `runService`) and never closes the infra it is given.
 */
import { AsyncResource } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
  type RawServerDefault,
} from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { JWKSource, JwksKeyStore } from '../auth/verify';
import { authenticationPlugin } from '../auth/auth.plugin';
import type { Bus } from '../bus/bus';
import type { BaseServiceConfig } from '../config';
import { isValidRequestId, parseTraceparent, withRequestContext } from '../context';
import type { DatabaseHandle } from '../db/database';
import { newId } from '../ids';
import type { Infra } from '../infra';
import type { KeyValue } from '../kv/key-value';
import { LATENCY_BUCKETS, createRegistry, histogram } from '../metrics';
import { errorBody, toErrorResponse } from './errors';
import { safeChildLogger } from './logging';
import { createValidatorCompiler } from './validation';
import { refuseUnstorableCharacters } from './unstorable-characters';

export type Dependency = 'db' | 'bus' | 'kv';

export interface CreateServiceAppOptions {
  /** Service name: logger binding, metrics label. */
  name: string;
  config: BaseServiceConfig;
  infra: Infra;
  /** Logger to use instead of `infra.logger` (tests pass a capturing one); its level is kept. */
  logger?: Logger;
  /** Dependencies `/readyz` checks (default all three). */
  readiness?: Dependency[];
  /** Token verification (default on, keys from the auth service over the bus); `false` turns enforcement off. */
  auth?: { keys?: JWKSource | JwksKeyStore } | false;
  /** Time each readiness check may take (default 1000 ms). */
  readinessTimeoutMs?: number;
  /**
   * Fastify's `trustProxy`: exactly the proxies in front (false, true, a hop
   * count, or addresses/CIDRs), so `request.ip` is the client's (PITFALLS:
   * never trust every X-Forwarded-For). Default false.
   */
  trustProxy?: FastifyServerOptions['trustProxy'];
}

export type ServiceApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyInstance {
    infra: Infra;
    db: DatabaseHandle;
    bus: Bus;
    kv: KeyValue;
    /** The app's own prom-client registry; add service metrics with `counter/gauge/histogram(app.metrics, ...)`. */
    metrics: Registry;
  }
  interface FastifyRequest {
    /** Same as `request.id`: the accepted or generated X-Request-Id. */
    readonly requestId: string;
  }
}

const kAsyncResource = Symbol('parley.asyncResource');
type WithResource = { [kAsyncResource]?: AsyncResource };

/** Name of each dependency in `/readyz` answers. */
function dependencyName(dep: Dependency, infra: Infra): string {
  if (dep === 'db') return infra.db.kind;
  return dep === 'bus' ? 'nats' : 'redis';
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      p,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function createServiceApp(opts: CreateServiceAppOptions): Promise<ServiceApp> {
  const { name, config, infra } = opts;
  // LOG_LEVEL applies to infra.logger's child; an explicitly passed logger,
  // or a silenced one (tests), keeps its own level.
  const base = opts.logger ?? infra.logger;
  const logger = safeChildLogger(
    base,
    { service: name },
    opts.logger || base.level === 'silent' ? undefined : config.LOG_LEVEL,
  );

  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: opts.trustProxy ?? false,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return isValidRequestId(incoming) ? incoming : newId();
    },
    // Errors raised before routing (e.g. a malformed URL) get the API shape too.
    frameworkErrors: (err, request, reply) => {
      const res = toErrorResponse(err, request.id);
      (reply as FastifyReply)
        .header('x-request-id', request.id)
        .headers(res.headers)
        .code(res.statusCode)
        .send(res.body);
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as ServiceApp;

  app.setValidatorCompiler(createValidatorCompiler());
  // JSON only: anything else is 415 rather than a confusing validation error.
  app.removeContentTypeParser('text/plain');

  app.decorate('infra', infra);
  app.decorate('db', infra.db);
  app.decorate('bus', infra.bus);
  app.decorate('kv', infra.kv);
  app.decorate('metrics', createRegistry(name));
  app.decorateRequest('requestId', {
    getter(this: { id: string }) {
      return this.id;
    },
  });

  // Request context: everything the request causes (logs, bus calls, outbox
  // events) carries its id. Body parsing runs on stream callbacks outside the
  // context, so it is re-entered before validation (as @fastify/request-context does).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    withRequestContext({ requestId: request.id, traceparent: parseTraceparent(request.headers.traceparent) }, () => {
      (request as unknown as WithResource)[kAsyncResource] = new AsyncResource('parley-request');
      done();
    });
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const resource = (request as unknown as WithResource)[kAsyncResource];
    if (resource) resource.runInAsyncScope(done);
    else done();
  });

  // Postgres cannot store NUL or unpaired surrogates: refuse them as a 400 in
  // every service rather than let a statement fail with a 500.
  app.addHook('preHandler', refuseUnstorableCharacters);

  app.setErrorHandler((err, request, reply) => {
    const res = toErrorResponse(err, request.id);
    const bindings = { code: res.logCode, statusCode: res.statusCode };
    if (res.logLevel === 'info') request.log.info(bindings, `request failed: ${res.body.error.message}`);
    else request.log[res.logLevel]({ ...bindings, err }, 'request error');
    reply.header('x-request-id', request.id).headers(res.headers).code(res.statusCode).send(res.body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('not_found', 'route not found', request.id));
  });

  const duration = histogram(app.metrics, {
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
  });
  app.addHook('onResponse', (request, reply, done) => {
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  const probeOpts = { config: { public: true }, logLevel: 'warn' as const };
  app.get('/healthz', probeOpts, async () => ({ status: 'ok' }));

  const readiness = opts.readiness ?? ['db', 'bus', 'kv'];
  const readinessTimeoutMs = opts.readinessTimeoutMs ?? 1000;
  app.get('/readyz', probeOpts, async (request, reply) => {
    const results = await Promise.all(
      readiness.map(async (dep) => {
        try {
          await withTimeout(infra[dep].ping(), readinessTimeoutMs);
          return null;
        } catch (err) {
          request.log.warn({ err, dependency: dep }, 'readiness check failed');
          return dependencyName(dep, infra);
        }
      }),
    );
    const failed = results.filter((r): r is string => r !== null);
    if (failed.length > 0) return reply.code(503).send({ status: 'unavailable', failed });
    return { status: 'ok' };
  });

  app.get('/metrics', probeOpts, async (_request, reply) => {
    reply.type(app.metrics.contentType);
    return app.metrics.metrics();
  });

  await app.register(authenticationPlugin, {
    keys: opts.auth === false ? undefined : opts.auth?.keys,
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    enforce: opts.auth !== false,
  });

  return app;
}
