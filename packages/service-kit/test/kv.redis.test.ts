import { describe, expect, it } from 'vitest';
import { KeyValueUnavailableError } from '../src/kv/key-value';
import { createRedisKv } from '../src/kv/redis-kv';
import { deleteKeysWithPrefix, uniqueTestPrefix } from '../src/testing/infra';
import { runKvContract } from '../src/testing/kv.contract';
import { requireServers, testServers } from '../src/testing/servers';

await requireServers(['redis']);

const { redisUrl } = testServers();
const prefix = `test:${uniqueTestPrefix('kv')}:`;

runKvContract('redis', (p) => createRedisKv({ url: redisUrl, prefix: p }), {
  prefix,
  after: async () => {
    await deleteKeysWithPrefix(redisUrl, prefix);
  },
});

// The gateway's client: commands of one event-loop turn go out as one pipeline.
runKvContract('redis, auto-pipelined', (p) => createRedisKv({ url: redisUrl, prefix: p, autoPipelining: true }), {
  prefix: `${prefix}ap:`,
  after: async () => {
    await deleteKeysWithPrefix(redisUrl, `${prefix}ap:`);
  },
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
