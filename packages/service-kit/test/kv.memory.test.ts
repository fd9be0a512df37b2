import { describe, expect, it } from 'vitest';
import { createMemoryKv, createMemoryKvStore } from '../src/kv/memory-kv';
import { runKvContract } from '../src/testing/kv.contract';

// One store behind every prefix, as in standalone mode where services share it.
const store = createMemoryKvStore();
runKvContract('memory', (prefix) => createMemoryKv({ prefix, store }), { prefix: 'test:' });

describe('memory kv', () => {
  it('expires keys by its clock, without timers', async () => {
    let t = 1_000;
    const kv = createMemoryKv({ now: () => t });
    await kv.set('k', 'v', { ttlMs: 500 });
    await kv.incr('c', { ttlMs: 500 });
    t += 499;
    expect(await kv.get('k')).toBe('v');
    expect(await kv.ttl('c')).toBe(1);
    t += 1;
    expect(await kv.get('k')).toBeNull();
    expect(await kv.incr('c', { ttlMs: 500 })).toEqual({ value: 1, ttlMs: 500 });
  });
});
