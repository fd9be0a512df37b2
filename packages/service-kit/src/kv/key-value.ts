/**
 * Small key-value store for ephemeral state: rate-limit counters, presence,
 * the revoked-session set, short caches. Redis (`redis-kv.ts`) and in-memory
 * (`memory-kv.ts`) adapters; `kv.contract.ts` runs against both.
 * Keys are prefixed by the adapter (per deployment / per test file).
 */
export interface KeyValue {
  get(key: string): Promise<string | null>;
  /** Sets a value; with `nx`, only if absent (returns false when it existed). */
  set(key: string, value: string, opts?: { ttlMs?: number; nx?: boolean }): Promise<boolean>;
  del(...keys: string[]): Promise<number>;
  exists(key: string): Promise<boolean>;
  /** Adds `by` (default 1) and returns the new value and the remaining TTL in ms (-1: none). A new key gets `ttlMs`. */
  incr(key: string, opts?: { by?: number; ttlMs?: number }): Promise<{ value: number; ttlMs: number }>;
  expire(key: string, ttlMs: number): Promise<boolean>;
  /** Remaining TTL in ms, -1 without TTL, -2 when missing. */
  ttl(key: string): Promise<number>;
  sadd(key: string, ...members: string[]): Promise<number>;
  srem(key: string, ...members: string[]): Promise<number>;
  smembers(key: string): Promise<string[]>;
  sismember(key: string, member: string): Promise<boolean>;
  scard(key: string): Promise<number>;
  hset(key: string, values: Record<string, string>): Promise<void>;
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  hdel(key: string, ...fields: string[]): Promise<number>;
  /** Multi-get; missing keys are null. */
  mget(keys: string[]): Promise<(string | null)[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class KeyValueUnavailableError extends Error {
  constructor(cause?: unknown) {
    super('key-value store unavailable', { cause });
    this.name = 'KeyValueUnavailableError';
  }
}
