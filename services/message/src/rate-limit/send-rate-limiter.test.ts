import { createMemoryKv, type KeyValue, KeyValueUnavailableError } from '@parley/service-kit';
import { describe, expect, it } from 'vitest';
import { createSendRateLimiter } from './send-rate-limiter';

function setup(perMinute = 60, burst = 20) {
  let t = 1_700_000_000_000;
  const now = () => t;
  const kv = createMemoryKv({ now });
  const warnings: unknown[] = [];
  const limiter = createSendRateLimiter({
    kv,
    perMinute,
    burst,
    now,
    logger: { warn: (o: unknown) => warnings.push(o) },
  });
  return { limiter, kv, warnings, advance: (ms: number) => (t += ms) };
}

describe('send rate limiter (GCRA token bucket)', () => {
  it('allows the burst at once, then one send per refill interval', async () => {
    const { limiter, advance } = setup(60, 20);
    for (let i = 0; i < 20; i++) expect((await limiter.take('u')).allowed).toBe(true);
    const denied = await limiter.take('u');
    expect(denied).toEqual({ allowed: false, retryAfterMs: 1000 });
    advance(999);
    expect((await limiter.take('u')).allowed).toBe(false);
    advance(1);
    expect((await limiter.take('u')).allowed).toBe(true);
    expect((await limiter.take('u')).allowed).toBe(false);
  });

  it('gives a full bucket back after idling, never more', async () => {
    const { limiter, advance } = setup(60, 3);
    for (let i = 0; i < 3; i++) await limiter.take('u');
    advance(10 * 60_000);
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await limiter.take('u')).allowed);
    expect(results).toEqual([true, true, true, false]);
  });

  it('keeps users apart and refunds a token', async () => {
    const { limiter } = setup(60, 1);
    expect((await limiter.take('a')).allowed).toBe(true);
    expect((await limiter.take('a')).allowed).toBe(false);
    expect((await limiter.take('b')).allowed).toBe(true);
    await limiter.refund('a');
    expect((await limiter.take('a')).allowed).toBe(true);
  });

  it('fails open, with a warning, when the store is unavailable', async () => {
    const { kv, warnings } = setup();
    const broken: KeyValue = {
      ...kv,
      set: async () => {
        throw new KeyValueUnavailableError();
      },
    };
    const limiter = createSendRateLimiter({
      kv: broken,
      perMinute: 1,
      burst: 1,
      logger: { warn: (o: unknown) => warnings.push(o) },
    });
    expect((await limiter.take('u')).allowed).toBe(true);
    expect((await limiter.take('u')).allowed).toBe(true);
    expect(warnings).toHaveLength(1);
  });
});
