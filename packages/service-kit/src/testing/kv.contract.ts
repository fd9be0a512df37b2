/**
 * One behaviour suite for every KeyValue adapter (Redis and in-memory), so
 * the embedded mode cannot drift from production. Call inside a test file:
 * `runKvContract('redis', (prefix) => createRedisKv({ url, prefix }), { prefix })`.
 * Each test works on its own keys under `prefix` (a second store is made
 * with `<prefix>other:` to check isolation); the caller owns the cleanup.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyValue } from '../kv/key-value';

export interface KvContractOptions {
  /** Key prefix for the stores this suite makes, unique per test file. */
  prefix: string;
  /** Runs before the suite's first test (e.g. `requireServers(['redis'])`). */
  before?: () => Promise<void> | void;
  /** Runs after the suite closed its kv (e.g. delete the test prefix). */
  after?: () => Promise<void> | void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runKvContract(
  label: string,
  makeKv: (prefix: string) => KeyValue | Promise<KeyValue>,
  opts: KvContractOptions,
): void {
  describe(`KeyValue contract: ${label}`, () => {
    let kv: KeyValue;
    let other: KeyValue;
    const key = (name: string) => `${name}:${randomUUID()}`;

    beforeAll(async () => {
      await opts.before?.();
      kv = await makeKv(opts.prefix);
      other = await makeKv(`${opts.prefix}other:`);
    });
    afterAll(async () => {
      await kv?.close();
      await other?.close();
      await opts.after?.();
    });

    it('answers ping', async () => {
      await expect(kv.ping()).resolves.toBeUndefined();
    });

    it('gets what was set, and null for a missing key', async () => {
      const k = key('str');
      expect(await kv.get(k)).toBeNull();
      expect(await kv.set(k, 'v1')).toBe(true);
      expect(await kv.get(k)).toBe('v1');
      expect(await kv.set(k, 'v2')).toBe(true);
      expect(await kv.get(k)).toBe('v2');
      expect(await kv.exists(k)).toBe(true);
      expect(await kv.exists(key('none'))).toBe(false);
    });

    it('set with nx writes only when the key is absent', async () => {
      const k = key('nx');
      expect(await kv.set(k, 'first', { nx: true })).toBe(true);
      expect(await kv.set(k, 'second', { nx: true })).toBe(false);
      expect(await kv.get(k)).toBe('first');
    });

    it('expires a key set with a TTL and reports the remaining TTL', async () => {
      const k = key('ttl');
      await kv.set(k, 'x', { ttlMs: 60_000 });
      const ttl = await kv.ttl(k);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      const short = key('short');
      await kv.set(short, 'x', { ttlMs: 40 });
      await sleep(120);
      expect(await kv.get(short)).toBeNull();
      expect(await kv.exists(short)).toBe(false);
      expect(await kv.ttl(short)).toBe(-2);
    });

    it('reports -1 for a key without TTL and -2 for a missing key', async () => {
      const k = key('nottl');
      await kv.set(k, 'x');
      expect(await kv.ttl(k)).toBe(-1);
      expect(await kv.ttl(key('missing'))).toBe(-2);
    });

    it('set without TTL clears a previous TTL', async () => {
      const k = key('clear');
      await kv.set(k, 'x', { ttlMs: 60_000 });
      await kv.set(k, 'y');
      expect(await kv.ttl(k)).toBe(-1);
    });

    it('expire sets a TTL on an existing key only', async () => {
      const k = key('exp');
      expect(await kv.expire(k, 1000)).toBe(false);
      await kv.set(k, 'x');
      expect(await kv.expire(k, 40)).toBe(true);
      await sleep(120);
      expect(await kv.get(k)).toBeNull();
    });

    it('del removes keys and counts only those that existed', async () => {
      const a = key('a');
      const b = key('b');
      await kv.set(a, '1');
      await kv.sadd(b, 'm');
      expect(await kv.del(a, b, key('never'))).toBe(2);
      expect(await kv.get(a)).toBeNull();
      expect(await kv.scard(b)).toBe(0);
      expect(await kv.del()).toBe(0);
    });

    it('incr counts from zero, by a step, and gives a new key the TTL', async () => {
      const k = key('ctr');
      const first = await kv.incr(k, { ttlMs: 60_000 });
      expect(first.value).toBe(1);
      expect(first.ttlMs).toBeGreaterThan(50_000);
      const second = await kv.incr(k, { by: 5, ttlMs: 1 });
      expect(second.value).toBe(6);
      // The TTL is given only to a new key; later calls do not extend or shorten it.
      expect(second.ttlMs).toBeGreaterThan(50_000);
      expect((await kv.incr(k, { by: -2 })).value).toBe(4);
      expect(await kv.get(k)).toBe('4');
    });

    it('incr without TTL leaves the key persistent', async () => {
      const k = key('ctr-nottl');
      expect(await kv.incr(k)).toEqual({ value: 1, ttlMs: -1 });
    });

    it('incr on a counter whose TTL ran out starts again', async () => {
      const k = key('window');
      await kv.incr(k, { ttlMs: 40 });
      await kv.incr(k, { ttlMs: 40 });
      await sleep(120);
      const next = await kv.incr(k, { ttlMs: 60_000 });
      expect(next.value).toBe(1);
      expect(next.ttlMs).toBeGreaterThan(50_000);
    });

    it('incr is atomic under concurrent calls', async () => {
      const k = key('race');
      const results = await Promise.all(Array.from({ length: 50 }, () => kv.incr(k, { ttlMs: 60_000 })));
      expect(results.map((r) => r.value).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await kv.get(k)).toBe('50');
    });

    it('incr rejects a value that is not an integer', async () => {
      const k = key('notint');
      await kv.set(k, 'abc');
      await expect(kv.incr(k)).rejects.toThrow();
      expect(await kv.get(k)).toBe('abc');
    });

    it('keeps sets: add, remove, members, membership, cardinality', async () => {
      const k = key('set');
      expect(await kv.sadd(k, 'a', 'b', 'a')).toBe(2);
      expect(await kv.sadd(k, 'b', 'c')).toBe(1);
      expect((await kv.smembers(k)).sort()).toEqual(['a', 'b', 'c']);
      expect(await kv.sismember(k, 'a')).toBe(true);
      expect(await kv.sismember(k, 'z')).toBe(false);
      expect(await kv.scard(k)).toBe(3);
      expect(await kv.srem(k, 'a', 'z')).toBe(1);
      expect(await kv.scard(k)).toBe(2);
      expect(await kv.smembers(key('noset'))).toEqual([]);
      expect(await kv.scard(key('noset'))).toBe(0);
    });

    it('removes a set once its last member is removed', async () => {
      const k = key('empty-set');
      await kv.sadd(k, 'only');
      await kv.srem(k, 'only');
      expect(await kv.exists(k)).toBe(false);
    });

    it('a set can expire', async () => {
      const k = key('set-ttl');
      await kv.sadd(k, 'a');
      await kv.expire(k, 40);
      await sleep(120);
      expect(await kv.smembers(k)).toEqual([]);
    });

    it('keeps hashes: set, get, get all, delete fields', async () => {
      const k = key('hash');
      await kv.hset(k, { a: '1', b: '2' });
      await kv.hset(k, { b: '3', c: '4' });
      expect(await kv.hget(k, 'b')).toBe('3');
      expect(await kv.hget(k, 'zz')).toBeNull();
      expect(await kv.hgetall(k)).toEqual({ a: '1', b: '3', c: '4' });
      expect(await kv.hdel(k, 'a', 'zz')).toBe(1);
      expect(await kv.hgetall(k)).toEqual({ b: '3', c: '4' });
      expect(await kv.hgetall(key('nohash'))).toEqual({});
      await kv.hdel(k, 'b', 'c');
      expect(await kv.exists(k)).toBe(false);
    });

    it('mget returns values in order with null for missing keys', async () => {
      const a = key('ma');
      const b = key('mb');
      await kv.set(a, 'A');
      await kv.set(b, 'B');
      expect(await kv.mget([a, key('mmissing'), b])).toEqual(['A', null, 'B']);
      expect(await kv.mget([])).toEqual([]);
    });

    it('refuses to use a key as another type', async () => {
      const k = key('typed');
      await kv.sadd(k, 'a');
      await expect(kv.get(k)).rejects.toThrow();
      await expect(kv.hset(k, { f: 'v' })).rejects.toThrow();
      expect(await kv.smembers(k)).toEqual(['a']);
    });

    it('separates prefixes: the same key in a store with another prefix is another key', async () => {
      const k = key('pfx');
      await kv.set(k, 'mine');
      await kv.sadd(`${k}:s`, 'a');
      expect(await other.get(k)).toBeNull();
      expect(await other.exists(k)).toBe(false);
      expect(await other.smembers(`${k}:s`)).toEqual([]);
      await other.set(k, 'theirs');
      expect(await kv.get(k)).toBe('mine');
      expect(await other.get(k)).toBe('theirs');
      expect(await kv.mget([k])).toEqual(['mine']);
    });

    it('fails calls after close', async () => {
      const closing = await makeKv(`${opts.prefix}closing:`);
      await closing.close();
      await expect(closing.get('x')).rejects.toThrow();
    });
  });
}
