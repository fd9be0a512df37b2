/**
 * The aggregated OpenAPI 3.1 document of the whole public API, built from the
 * route table (which holds the contracts' TypeBox schemas, the same ones the
 * services validate with). OpenAPI 3.1 is JSON Schema 2020-12, so the
 * TypeBox schemas go in as they are, minus TypeBox's symbol keys.
 */
import { ErrorBody } from '@parley/contracts';
import type { TSchema } from '@sinclair/typebox';
import { ROUTES, type RouteSpec } from '../edge/route-table';

type Json = Record<string, unknown>;

/** A plain JSON copy of a TypeBox schema (drops symbol keys such as [Kind]). */
export function plainSchema(schema: TSchema): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

/** `/v1/conversations/:id/members/:userId` -> `/v1/conversations/{id}/members/{userId}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const ERROR_STATUSES: Record<string, string> = {
  '400': 'validation_failed or bad_request',
  '401': 'unauthorized',
  '403': 'forbidden',
  '404': 'not_found',
  '409': 'conflict',
  '413': 'payload_too_large',
  '429': 'rate_limited (with Retry-After and RateLimit-* headers)',
  '503': 'unavailable (a dependency is down; retry is safe)',
};

function operationOf(route: RouteSpec): Json {
  const parameters: Json[] = [];
  for (const m of route.path.matchAll(/:([A-Za-z0-9_]+)/g)) {
    parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string', format: 'uuid' } });
  }
  if (route.query) {
    const q = plainSchema(route.query) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
    }
  }
  parameters.push({
    name: 'X-Request-Id',
    in: 'header',
    required: false,
    schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
  });
  const responses: Json = {
    [String(route.success.status)]: route.success.schema
      ? { description: 'success', content: { 'application/json': { schema: plainSchema(route.success.schema) } } }
      : { description: 'success, no body' },
  };
  for (const status of Object.keys(ERROR_STATUSES)) {
    if (status === '401' && route.public && route.path !== '/v1/auth/login') continue;
    responses[status] = { $ref: `#/components/responses/Error${status}` };
  }
  const op: Json = {
    operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: route.summary,
    tags: [route.service],
    parameters,
    responses,
    security: route.public ? [] : [{ bearerAuth: [] }],
  };
  if (route.body) {
    op.requestBody = { required: true, content: { 'application/json': { schema: plainSchema(route.body) } } };
  }
  return op;
}

export function buildOpenApiDocument(opts: { version: string; serverUrl?: string }): Json {
  const paths: Record<string, Json> = {};
  for (const route of ROUTES) {
    const p = openApiPath(route.path);
    paths[p] ??= {};
    paths[p][route.method.toLowerCase()] = operationOf(route);
  }
  paths['/v1/ws'] = {
    get: {
      operationId: 'getV1Ws',
      summary: 'WebSocket upgrade of the realtime protocol (frames: /docs/asyncapi.json)',
      tags: ['realtime'],
      security: [],
      responses: { '101': { description: 'Switching Protocols' } },
    },
  };
  for (const [path, summary] of [
    ['/healthz', 'Liveness'],
    ['/readyz', 'Readiness of the dependencies'],
  ] as const) {
    paths[path] = {
      get: {
        operationId: `get${summary}`,
        summary,
        tags: ['ops'],
        security: [],
        responses: { '200': { description: 'ok' } },
      },
    };
  }
  const responses: Json = {};
  for (const [status, description] of Object.entries(ERROR_STATUSES)) {
    responses[`Error${status}`] = {
      description,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley public API',
      version: opts.version,
      description:
        'Every route of API.md, served under one origin by the realtime gateway. Errors share one shape; ' +
        'rate limits answer RateLimit-* headers and Retry-After on 429.',
    },
    servers: [{ url: opts.serverUrl ?? '/' }],
    tags: ['auth', 'conversation', 'message', 'history', 'notification', 'realtime', 'ops'].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: plainSchema(ErrorBody) },
      responses,
    },
  };
}
