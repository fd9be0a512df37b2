/**
 * Request context carried through async calls (AsyncLocalStorage), so code
 * far from the HTTP layer (the outbox, bus calls, consumers) can attach the
 * request id and trace context of the request or event that caused it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventHeaders } from '@parley/contracts';

export interface RequestContext {
  requestId?: string;
  traceparent?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The context of the current request or event, if any. */
export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Headers to pass with bus publishes and requests made on behalf of the current request. */
export function currentHeaders(): EventHeaders {
  const ctx = storage.getStore();
  const headers: EventHeaders = {};
  if (ctx?.requestId) headers.requestId = ctx.requestId;
  if (ctx?.traceparent) headers.traceparent = ctx.traceparent;
  return headers;
}

/** Runs `fn` (and everything it awaits) inside `ctx`. */
export function withRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run({ requestId: ctx.requestId, traceparent: ctx.traceparent }, fn);
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** W3C trace context header, accepted only when well-formed. */
export function parseTraceparent(value: unknown): string | undefined {
  return typeof value === 'string' && TRACEPARENT.test(value) ? value : undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** An incoming X-Request-Id is kept only when it is 1..128 chars of `A-Za-z0-9._:-` (API.md). */
export function isValidRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}
