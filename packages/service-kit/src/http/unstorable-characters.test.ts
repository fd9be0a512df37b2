import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ApiError } from './errors';
import { refuseUnstorableCharacters } from './unstorable-characters';

const req = (body: unknown, query: unknown = {}) => ({ body, query }) as unknown as FastifyRequest;

describe('refuseUnstorableCharacters', () => {
  it('lists every field holding NUL or an unpaired surrogate, keys included', async () => {
    const err = await refuseUnstorableCharacters(
      req({ name: 'a\u0000b', tags: ['ok', '\ud800'], meta: { 'k\u0000': 1 } }, { q: 'x\u0000' }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).details?.map((d) => d.field).sort()).toEqual(['meta.k\u0000', 'name', 'q', 'tags.1']);
  });

  it('checks query objects whatever their prototype (Fastify builds its own)', async () => {
    function Query() {}
    Query.prototype = Object.create(null);
    const query = Object.assign(new (Query as unknown as new () => object)(), { q: 'a\u0000' });
    await expect(refuseUnstorableCharacters(req(undefined, query))).rejects.toBeInstanceOf(ApiError);
  });

  it('accepts well-formed text, emoji (paired surrogates) included', async () => {
    await expect(refuseUnstorableCharacters(req({ content: 'hello 👋 wörld' }))).resolves.toBeUndefined();
  });

  it('does not walk a proxied body (stream or Buffer), however large or circular', async () => {
    const stream = Readable.from(['x']);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    Object.assign(stream, { circular });
    await expect(refuseUnstorableCharacters(req(stream))).resolves.toBeUndefined();
    // A circular plain object is visited once.
    await expect(refuseUnstorableCharacters(req(circular))).resolves.toBeUndefined();
    await expect(refuseUnstorableCharacters(req(Buffer.from('a\u0000b')))).resolves.toBeUndefined();
  });
});
