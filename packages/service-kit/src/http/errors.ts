/**
 * Errors are values with codes (STYLE.md, habit 6). Services throw ApiError
 * (through the helpers below) or their own named errors made with
 * `defineError`; one handler (`toErrorResponse`) maps everything, including
 * Fastify's own errors and infrastructure failures, to the API.md shape and
 * hides the internals of 5xx.
 */
import createError, { type FastifyErrorConstructor } from '@fastify/error';
import { type ErrorBody, type ErrorCode, type ErrorDetail, STATUS_OF_ERROR } from '@parley/contracts';

export type { ErrorCode, ErrorDetail };

export class ApiError extends Error {
  readonly statusCode: number;
  readonly details?: ErrorDetail[];
  /** Service-specific code (e.g. `MESSAGE_CONVERSATION_CLOSED`), logged, not sent. */
  readonly serviceCode?: string;
  /** Seconds for `Retry-After` (429, 503). */
  readonly retryAfterSec?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: { details?: ErrorDetail[]; serviceCode?: string; retryAfterSec?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ApiError';
    this.statusCode = STATUS_OF_ERROR[code];
    if (opts.details) this.details = opts.details;
    if (opts.serviceCode) this.serviceCode = opts.serviceCode;
    if (opts.retryAfterSec !== undefined) this.retryAfterSec = opts.retryAfterSec;
  }
}

export const notFound = (message = 'not found') => new ApiError('not_found', message);
export const forbidden = (message = 'forbidden') => new ApiError('forbidden', message);
export const conflict = (message = 'conflict') => new ApiError('conflict', message);
export const unauthorized = (message = 'unauthorized') => new ApiError('unauthorized', message);
export const invalidCredentials = (message = 'invalid credentials') => new ApiError('invalid_credentials', message);
export const badRequest = (message = 'bad request') => new ApiError('bad_request', message);
export const validationFailed = (details: ErrorDetail[], message = 'validation failed') =>
  new ApiError('validation_failed', message, { details });
export const rateLimited = (retryAfterSec: number, message = 'rate limited') =>
  new ApiError('rate_limited', message, { retryAfterSec: Math.max(1, Math.ceil(retryAfterSec)) });
export const unavailable = (message = 'a dependency is unavailable, retry later', cause?: unknown) =>
  new ApiError('unavailable', message, { retryAfterSec: 1, cause });
export const internal = (message = 'internal error', cause?: unknown) => new ApiError('internal', message, { cause });

const apiCodeOfServiceCode = new Map<string, ErrorCode>();

/**
 * Declares a named service error with @fastify/error:
 * `const ConversationClosed = defineError('MESSAGE_CONVERSATION_CLOSED', 'conflict', 'conversation %s is closed')`,
 * then `throw new ConversationClosed(id)`. It answers with the API code's
 * status and the formatted message.
 */
export function defineError<C extends string>(
  serviceCode: C,
  apiCode: ErrorCode,
  message: string,
): FastifyErrorConstructor<{ code: C; statusCode: number }> {
  const existing = apiCodeOfServiceCode.get(serviceCode);
  if (existing && existing !== apiCode) {
    throw new Error(`error code ${serviceCode} already defined with API code ${existing}`);
  }
  apiCodeOfServiceCode.set(serviceCode, apiCode);
  return createError(serviceCode, message, STATUS_OF_ERROR[apiCode]);
}

/** The API code a `defineError` code maps to, if it was defined. */
export function apiCodeOf(serviceCode: string): ErrorCode | undefined {
  return apiCodeOfServiceCode.get(serviceCode);
}

// ---------------------------------------------------------------------------
// Mapping any thrown value to the response.

interface AjvErrorLike {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
  schema?: unknown;
}

const DETAIL_CODE: Record<string, string> = {
  required: 'required',
  additionalProperties: 'unknown_field',
  type: 'invalid_type',
  format: 'invalid_format',
  pattern: 'invalid_format',
  minLength: 'too_short',
  maxLength: 'too_long',
  minimum: 'too_small',
  exclusiveMinimum: 'too_small',
  maximum: 'too_large',
  exclusiveMaximum: 'too_large',
  minItems: 'too_few_items',
  maxItems: 'too_many_items',
  uniqueItems: 'duplicate_items',
  minProperties: 'too_few_fields',
  maxProperties: 'too_many_fields',
  const: 'invalid_value',
  enum: 'invalid_value',
  anyOf: 'invalid_value',
  oneOf: 'invalid_value',
  multipleOf: 'invalid_value',
};

function fieldPath(instancePath: string, child?: unknown): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (typeof child === 'string') parts.push(child);
  return parts.join('.');
}

/**
 * Ajv errors (collected with `allErrors`) as API details: one entry per
 * failing field, so a client sees every problem at once. Branch errors of a
 * union are folded into one `invalid_value` for the field.
 */
export function detailsFromAjv(errors: readonly AjvErrorLike[], context = 'body'): ErrorDetail[] {
  const byField = new Map<string, ErrorDetail>();
  // Fields whose union failed: the branch errors below them are noise.
  const unionFields = new Set(
    errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => fieldPath(e.instancePath)),
  );
  for (const e of errors) {
    let field: string;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      field = fieldPath(e.instancePath, e.params.missingProperty);
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      field = fieldPath(e.instancePath, e.params.additionalProperty);
      message = 'is not an allowed field';
    } else {
      field = fieldPath(e.instancePath);
    }
    field ||= context;
    const isUnion = e.keyword === 'anyOf' || e.keyword === 'oneOf';
    if (!isUnion && unionFields.has(fieldPath(e.instancePath)) && e.keyword !== 'required') continue;
    if (isUnion) {
      const branches = Array.isArray(e.schema) ? (e.schema as { const?: unknown }[]) : [];
      const consts = branches.every((b) => b && typeof b === 'object' && 'const' in b) ? branches : [];
      message = consts.length ? `must be one of ${consts.map((b) => String(b.const)).join(', ')}` : message;
    }
    const detail: ErrorDetail = { field, code: DETAIL_CODE[e.keyword] ?? e.keyword, message };
    const previous = byField.get(field);
    if (!previous || isUnion) byField.set(field, detail);
  }
  return [...byField.values()];
}

const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
};

const UNAVAILABLE_NAMES = new Set([
  'BusTimeoutError',
  'BusNoRespondersError',
  'KeyValueUnavailableError',
  'MaxRetriesPerRequestError',
]);
const UNAVAILABLE_CODES = new Set([
  // node sockets
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  // postgres.js
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  // Postgres SQLSTATE: shutdown, cannot connect now, too many connections,
  // statement timeout, serialization failure, deadlock (all safe to retry)
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '57014',
  '40001',
  '40P01',
  // nats.js
  'TIMEOUT',
  '503',
  'CONNECTION_REFUSED',
  'CONNECTION_DRAINING',
  'DISCONNECT',
]);

/** Whether an error (or one of its causes) means a dependency is down or busy: 503, retry is safe. */
export function isUnavailableError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth++) {
    const e = current as { name?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof e.name === 'string' && UNAVAILABLE_NAMES.has(e.name)) return true;
    if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
    // AggregateError from net.connect on several addresses
    if (Array.isArray(e.errors) && e.errors.some((inner) => isUnavailableError(inner))) return true;
    current = e.cause;
  }
  return false;
}

export interface ErrorResponse {
  statusCode: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** How loudly to log it: 5xx are errors, 503 warnings, 4xx info. */
  logLevel: 'error' | 'warn' | 'info';
  /** Code for logs (service code when there is one). */
  logCode: string;
}

function response(
  code: ErrorCode,
  message: string,
  requestId: string,
  extra: { details?: ErrorDetail[]; retryAfterSec?: number; statusCode?: number; logCode?: string } = {},
): ErrorResponse {
  const statusCode = extra.statusCode ?? STATUS_OF_ERROR[code];
  const body: ErrorBody = { error: { code, message, requestId } };
  if (extra.details?.length) body.error.details = extra.details;
  const headers: Record<string, string> = {};
  if (extra.retryAfterSec !== undefined) headers['retry-after'] = String(extra.retryAfterSec);
  else if (code === 'rate_limited') headers['retry-after'] = '1';
  return {
    statusCode,
    body,
    headers,
    logLevel: statusCode >= 500 ? (statusCode === 503 ? 'warn' : 'error') : 'info',
    logCode: extra.logCode ?? code,
  };
}

/** Maps anything thrown while handling a request to the API error response. */
export function toErrorResponse(err: unknown, requestId: string): ErrorResponse {
  if (err instanceof ApiError) {
    const expose = err.statusCode < 500 || err.code === 'unavailable';
    return response(err.code, expose ? err.message : 'internal error', requestId, {
      details: err.details,
      retryAfterSec: err.retryAfterSec,
      logCode: err.serviceCode ?? err.code,
    });
  }
  const e = (err && typeof err === 'object' ? err : {}) as {
    code?: unknown;
    statusCode?: unknown;
    message?: unknown;
    validation?: unknown;
    validationContext?: unknown;
  };
  const message = typeof e.message === 'string' ? e.message : 'error';
  const code = typeof e.code === 'string' ? e.code : undefined;

  if (Array.isArray(e.validation)) {
    const context = typeof e.validationContext === 'string' ? e.validationContext : 'body';
    return response('validation_failed', 'validation failed', requestId, {
      details: detailsFromAjv(e.validation as AjvErrorLike[], context),
    });
  }
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return response('bad_request', 'malformed JSON body', requestId, { logCode: code });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return response('bad_request', 'empty body with content-type application/json', requestId, { logCode: code });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return response('bad_request', 'content-length does not match the body', requestId, { logCode: code });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return response('payload_too_large', 'request body is too large', requestId, { logCode: code });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return response('unsupported_media_type', 'unsupported content type', requestId, { logCode: code });
    case 'FST_ERR_BAD_URL':
      return response('bad_request', 'malformed URL', requestId, { logCode: code });
  }
  const mapped = code ? apiCodeOf(code) : undefined;
  if (mapped) {
    const status = STATUS_OF_ERROR[mapped];
    return response(mapped, status < 500 || mapped === 'unavailable' ? message : 'internal error', requestId, {
      logCode: code,
      retryAfterSec: mapped === 'unavailable' ? 1 : undefined,
    });
  }
  if (isUnavailableError(err)) {
    return response('unavailable', 'a dependency is unavailable, retry later', requestId, {
      retryAfterSec: 1,
      logCode: code ?? 'unavailable',
    });
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    // Fastify's and plugins' own client errors (e.g. @fastify/rate-limit's 429).
    return response(CODE_OF_STATUS[status] ?? 'bad_request', message, requestId, {
      statusCode: CODE_OF_STATUS[status] ? undefined : status,
      logCode: code,
    });
  }
  return response('internal', 'internal error', requestId, { logCode: code ?? 'internal' });
}

/** The body of an error answered outside the error handler (e.g. the 404 handler). */
export function errorBody(code: ErrorCode, message: string, requestId: string): ErrorBody {
  return { error: { code, message, requestId } };
}
