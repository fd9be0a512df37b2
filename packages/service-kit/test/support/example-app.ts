/**
 * A tiny service built with the kit, as a real service would be: routes with
 * TypeBox schemas, thin handlers, thrown errors. Used by the HTTP and auth
 * integration tests.
 */
import { Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { JWKSource } from '../../src/auth/verify';
import { BaseServiceConfig, loadConfig } from '../../src/config';
import { currentHeaders, currentRequestId } from '../../src/context';
import { type ServiceApp, createServiceApp } from '../../src/http/app';
import { defineError } from '../../src/http/errors';
import type { Infra } from '../../src/infra';

export const ExampleClosed = defineError('EXAMPLE_CLOSED', 'conflict', 'thing %s is closed');

export const ThingBody = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 254 }),
    name: Type.String({ minLength: 2, maxLength: 64 }),
    age: Type.Integer({ minimum: 0, maximum: 200 }),
    type: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
    website: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
    ownerId: Type.Optional(Type.String({ format: 'uuid' })),
    at: Type.Optional(Type.String({ format: 'date-time' })),
    tags: Type.Optional(Type.Array(Type.String({ maxLength: 3 }), { maxItems: 3 })),
  },
  { additionalProperties: false },
);

export async function buildExampleApp(opts: {
  infra: Infra;
  logger?: Logger;
  keys?: JWKSource;
  env?: Record<string, string>;
  auth?: false;
  trustProxy?: string;
}): Promise<ServiceApp> {
  const config = loadConfig(BaseServiceConfig, opts.env ?? {});
  const app = await createServiceApp({
    name: 'example',
    config,
    infra: opts.infra,
    logger: opts.logger,
    auth: opts.auth === false ? false : { keys: opts.keys },
    trustProxy: opts.trustProxy,
  });

  app.post(
    '/v1/things',
    {
      schema: {
        body: ThingBody,
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      request.log.info({ name: request.body.name }, 'creating thing');
      return reply.code(201).send({
        name: request.body.name,
        limit: request.query.limit,
        auth: request.auth,
        requestId: currentRequestId(),
        headers: currentHeaders(),
      });
    },
  );

  app.get(
    '/v1/things/:id',
    { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }) } },
    async (request) => ({ id: request.params.id, auth: request.auth }),
  );

  app.post(
    '/v1/public/echo',
    {
      config: { public: true },
      schema: {
        body: Type.Object(
          {
            content: Type.String({ maxLength: 100_000 }),
            password: Type.Optional(Type.String({ maxLength: 128 })),
            profile: Type.Optional(Type.Object({ refreshToken: Type.String() })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      // A careless handler: logs the whole body and headers. Redaction must still hold.
      request.log.info({ body: request.body, headers: request.headers }, 'echo');
      return { length: request.body.content.length };
    },
  );

  app.get('/v1/public/ip', { config: { public: true } }, async (request) => ({ ip: request.ip }));

  app.get('/v1/public/boom', { config: { public: true } }, async () => {
    throw new Error('syntax error at or near "SELEKT" in SELEKT password_hash FROM auth.users');
  });
  app.get('/v1/public/db-down', { config: { public: true } }, async () => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  });
  app.get('/v1/public/closed', { config: { public: true } }, async () => {
    throw new ExampleClosed('t1');
  });
  app.get('/v1/public/rpc', { config: { public: true } }, async (request) => {
    // Bus calls made for a request carry its id.
    await request.server.bus.request('rpc.example.echo', {}, { headers: currentHeaders() });
    return { ok: true };
  });

  return app;
}
