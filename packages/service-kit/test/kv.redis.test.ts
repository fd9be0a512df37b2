import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { KeyValueUnavailableError } from '../src/kv/key-value';
import { createRedisKv } from '../src/kv/redis-kv';
import { runKvContract } from '../src/testing/kv.contract';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test:kv:${randomUUID()}:`;

async function deletePrefix(p: string) {
  const r = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await r.del(...keys);
  } while (cursor !== '0');
  await r.quit();
}

runKvContract('redis', (p) => createRedisKv({ url: redisUrl, prefix: p }), {
  prefix,
  after: () => deletePrefix(prefix),
});

describe('redis kv when Redis is unreachable', () => {
  it('fails fast with KeyValueUnavailableError instead of hanging', async () => {
    const kv = createRedisKv({ url: 'redis://127.0.0.1:1', prefix });
    await expect(kv.get('x')).rejects.toBeInstanceOf(KeyValueUnavailableError);
    await expect(kv.incr('x', { ttlMs: 1000 })).rejects.toBeInstanceOf(KeyValueUnavailableError);
    await expect(kv.ping()).rejects.toBeInstanceOf(KeyValueUnavailableError);
    await kv.close();
    // A generous bound: a client that queued or retried would sit here for much longer.
  }, 5_000);
});
