import { describe, expect, it } from 'vitest';
import { BusNoRespondersError, BusTimeoutError } from '../bus/bus';
import { KeyValueUnavailableError } from '../kv/key-value';
import {
  ApiError,
  conflict,
  defineError,
  detailsFromAjv,
  isUnavailableError,
  rateLimited,
  toErrorResponse,
  validationFailed,
} from './errors';

describe('toErrorResponse', () => {
  it('answers an ApiError with its code, status and message', () => {
    const res = toErrorResponse(conflict('email taken'), 'r1');
    expect(res.statusCode).toBe(409);
    expect(res.body).toEqual({ error: { code: 'conflict', message: 'email taken', requestId: 'r1' } });
  });

  it('carries validation details', () => {
    const res = toErrorResponse(validationFailed([{ field: 'a', code: 'required', message: 'is required' }]), 'r');
    expect(res.statusCode).toBe(400);
    expect(res.body.error.details).toEqual([{ field: 'a', code: 'required', message: 'is required' }]);
  });

  it('sets Retry-After on rate limits, rounded up to whole seconds', () => {
    const res = toErrorResponse(rateLimited(2.2), 'r');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('3');
  });

  it('maps errors declared with defineError to their API code', () => {
    const Closed = defineError('TEST_CONVERSATION_CLOSED', 'conflict', 'conversation %s is closed');
    const res = toErrorResponse(new Closed('c1'), 'r');
    expect(res.statusCode).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'conflict', message: 'conversation c1 is closed' });
    expect(res.logCode).toBe('TEST_CONVERSATION_CLOSED');
  });

  it('refuses to redefine a service code with another API code', () => {
    defineError('TEST_TWICE', 'forbidden', 'x');
    expect(() => defineError('TEST_TWICE', 'forbidden', 'x')).not.toThrow();
    expect(() => defineError('TEST_TWICE', 'conflict', 'x')).toThrow(/already defined/);
  });

  it.each([
    ['bus timeout', new BusTimeoutError('rpc.x')],
    ['no responders', new BusNoRespondersError('rpc.x')],
    ['kv down', new KeyValueUnavailableError()],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['postgres.js closed', Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })],
    ['postgres shutdown', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    ['connection exception class', Object.assign(new Error('x'), { code: '08006' })],
    ['wrapped by drizzle', new Error('Failed query', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) })],
  ])('answers 503 unavailable for %s', (_name, err) => {
    expect(isUnavailableError(err)).toBe(true);
    const res = toErrorResponse(err, 'r');
    expect(res.statusCode).toBe(503);
    expect(res.body.error.code).toBe('unavailable');
    expect(res.headers['retry-after']).toBe('1');
  });

  it('hides the internals of anything else behind 500 internal', () => {
    const err = Object.assign(new Error('duplicate key value violates unique constraint "users_pkey"'), {
      code: '23505',
      query: 'insert into users values ($1)',
    });
    const res = toErrorResponse(err, 'r');
    expect(res.statusCode).toBe(500);
    expect(res.body).toEqual({ error: { code: 'internal', message: 'internal error', requestId: 'r' } });
    expect(res.logLevel).toBe('error');
  });

  it('hides the message of a 500 ApiError', () => {
    const res = toErrorResponse(new ApiError('internal', 'secret detail'), 'r');
    expect(res.body.error.message).toBe('internal error');
  });

  it('keeps the status of other client errors raised by plugins', () => {
    const res = toErrorResponse(Object.assign(new Error('Rate limit exceeded'), { statusCode: 429 }), 'r');
    expect(res.statusCode).toBe(429);
    expect(res.body.error.code).toBe('rate_limited');
    expect(res.headers['retry-after']).toBe('1');
  });

  it('survives throwing non-errors', () => {
    expect(toErrorResponse('a string', 'r').statusCode).toBe(500);
    expect(toErrorResponse(undefined, 'r').statusCode).toBe(500);
  });
});

describe('detailsFromAjv', () => {
  it('names the field of required, unknown, type and format errors', () => {
    const details = detailsFromAjv([
      {
        keyword: 'required',
        instancePath: '',
        params: { missingProperty: 'email' },
        message: "must have required property 'email'",
      },
      { keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'admin' }, message: 'x' },
      { keyword: 'type', instancePath: '/age', params: { type: 'integer' }, message: 'must be integer' },
      {
        keyword: 'format',
        instancePath: '/attachments/0/url',
        params: { format: 'uri' },
        message: 'must match format "uri"',
      },
    ]);
    expect(details).toEqual([
      { field: 'email', code: 'required', message: 'is required' },
      { field: 'admin', code: 'unknown_field', message: 'is not an allowed field' },
      { field: 'age', code: 'invalid_type', message: 'must be integer' },
      { field: 'attachments.0.url', code: 'invalid_format', message: 'must match format "uri"' },
    ]);
  });

  it('folds the branches of a failed union of literals into one detail listing the allowed values', () => {
    const details = detailsFromAjv([
      {
        keyword: 'const',
        instancePath: '/type',
        params: { allowedValue: 'direct' },
        message: 'must be equal to constant',
      },
      {
        keyword: 'const',
        instancePath: '/type',
        params: { allowedValue: 'group' },
        message: 'must be equal to constant',
      },
      {
        keyword: 'anyOf',
        instancePath: '/type',
        params: {},
        message: 'must match a schema in anyOf',
        schema: [{ const: 'direct' }, { const: 'group' }],
      },
    ]);
    expect(details).toEqual([{ field: 'type', code: 'invalid_value', message: 'must be one of direct, group' }]);
  });

  it('names the part itself when the whole part is wrong', () => {
    expect(
      detailsFromAjv([{ keyword: 'type', instancePath: '', params: {}, message: 'must be object' }], 'body'),
    ).toEqual([{ field: 'body', code: 'invalid_type', message: 'must be object' }]);
  });
});
