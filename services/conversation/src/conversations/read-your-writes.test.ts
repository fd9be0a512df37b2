import { createMemoryKv } from '@parley/service-kit';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './conversation.cursor';
import { type ModelPosition, createReadYourWrites, parseWatermark, reached, rwKey } from './read-your-writes';

describe('watermarks', () => {
  it('reads a bare integer as a rev and JSON objects field by field', () => {
    expect(parseWatermark('12')).toEqual({ rev: 12 });
    expect(parseWatermark('{"seq":3,"readSeq":2}')).toEqual({ rev: undefined, seq: 3, readSeq: 2 });
    expect(parseWatermark('{"lastReadSeq":4}')?.readSeq).toBe(4);
  });

  it('ignores what it does not understand', () => {
    expect(parseWatermark(null)).toBeNull();
    expect(parseWatermark('nope')).toBeNull();
    expect(parseWatermark('{"rev":-1}')).toBeNull();
    expect(parseWatermark('[1]')).toBeNull();
  });

  it('is reached only when every part is', () => {
    const p: ModelPosition = { conversationId: 'c', lastSeq: 5, lastRev: 7, lastReadSeq: 2 };
    expect(reached(p, { rev: 7 })).toBe(true);
    expect(reached(p, { rev: 8 })).toBe(false);
    expect(reached(p, { seq: 5, readSeq: 2 })).toBe(true);
    expect(reached(p, { readSeq: 3 })).toBe(false);
  });
});

describe('waiting for the caller’s own writes', () => {
  it('returns once the model reaches the watermark', async () => {
    const kv = createMemoryKv();
    await kv.set(rwKey('u', 'c'), '3');
    let lastRev = 0;
    const rw = createReadYourWrites({
      kv,
      maxWaitMs: 5000,
      pollMs: 1,
      conversationIdsOf: async () => ['c'],
      positions: async () => {
        lastRev += 1;
        return [{ conversationId: 'c', lastSeq: lastRev, lastRev, lastReadSeq: 0 }];
      },
      logger: pino({ level: 'silent' }),
    });
    await rw.await('u');
    expect(lastRev).toBe(3);
  });

  it('gives up at the deadline rather than hang', async () => {
    const kv = createMemoryKv();
    await kv.set(rwKey('u', 'c'), '{"rev":100}');
    let polls = 0;
    const rw = createReadYourWrites({
      kv,
      maxWaitMs: 30,
      pollMs: 5,
      conversationIdsOf: async () => ['c'],
      positions: async () => {
        polls += 1;
        return [{ conversationId: 'c', lastSeq: 0, lastRev: 0, lastReadSeq: 0 }];
      },
      logger: pino({ level: 'silent' }),
    });
    await rw.await('u', ['c']);
    expect(polls).toBeGreaterThan(0);
  });
});

describe('cursors', () => {
  it('round-trips a keyset position', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const id = '0190f3a2-7b1c-7d2e-8f00-112233445566';
    expect(decodeCursor(encodeCursor(at, id))).toEqual({ at: at.toISOString(), id });
    expect(decodeCursor(undefined)).toBeNull();
  });

  it('answers a 400 on the cursor field for anything else', () => {
    for (const bad of [
      'x',
      Buffer.from('["nope","x"]').toString('base64url'),
      Buffer.from('{}').toString('base64url'),
    ]) {
      expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    }
  });
});
