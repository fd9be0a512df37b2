import { describe, expect, it } from 'vitest';
import { currentHeaders, currentRequestId, isValidRequestId, parseTraceparent, withRequestContext } from './context';

describe('request context', () => {
  it('is empty outside any request', () => {
    expect(currentRequestId()).toBeUndefined();
    expect(currentHeaders()).toEqual({});
  });

  it('follows async work started inside withRequestContext', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const seen = await withRequestContext({ requestId: 'req-1', traceparent: tp }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      await Promise.resolve();
      return { id: currentRequestId(), headers: currentHeaders() };
    });
    expect(seen).toEqual({ id: 'req-1', headers: { requestId: 'req-1', traceparent: tp } });
    expect(currentRequestId()).toBeUndefined();
  });

  it('keeps concurrent contexts apart', async () => {
    const run = (id: string, delay: number) =>
      withRequestContext({ requestId: id }, async () => {
        await new Promise((r) => setTimeout(r, delay));
        return currentRequestId();
      });
    expect(await Promise.all([run('a', 5), run('b', 1)])).toEqual(['a', 'b']);
  });
});

describe('isValidRequestId', () => {
  it('accepts 1..128 characters of A-Za-z0-9._:-', () => {
    expect(isValidRequestId('a')).toBe(true);
    expect(isValidRequestId('Abc-123_x.y:z')).toBe(true);
    expect(isValidRequestId('x'.repeat(128))).toBe(true);
  });
  it('rejects anything else', () => {
    expect(isValidRequestId('')).toBe(false);
    expect(isValidRequestId('x'.repeat(129))).toBe(false);
    expect(isValidRequestId('has space')).toBe(false);
    expect(isValidRequestId('a\nb')).toBe(false);
    expect(isValidRequestId('<script>')).toBe(false);
    expect(isValidRequestId(['a', 'b'])).toBe(false);
    expect(isValidRequestId(undefined)).toBe(false);
  });
});

describe('parseTraceparent', () => {
  it('keeps only well-formed W3C trace context', () => {
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBeDefined();
    expect(parseTraceparent('garbage')).toBeUndefined();
    expect(parseTraceparent(undefined)).toBeUndefined();
  });
});
