/**
 * In-memory KeyValue for the embedded (standalone) mode and unit tests.
 * Same semantics as the Redis adapter (`kv.contract.ts` runs on both):
 * millisecond TTLs expire lazily on access, a key holds one type (string,
 * set or hash) and using it as another throws like Redis' WRONGTYPE, and
 * empty sets and hashes disappear. One store may be shared by several
 * services (standalone) through different prefixes: `createMemoryKv` with the
 * same `store` sees the same data.
 */
import type { KeyValue } from './key-value';

type Entry =
  | { kind: 'string'; value: string; expiresAt: number | null }
  | { kind: 'set'; value: Set<string>; expiresAt: number | null }
  | { kind: 'hash'; value: Map<string, string>; expiresAt: number | null };

export type MemoryKvStore = Map<string, Entry>;

export class KeyValueTypeError extends Error {
  constructor(key: string) {
    super(`WRONGTYPE operation against key ${key} holding the wrong kind of value`);
    this.name = 'KeyValueTypeError';
  }
}

export interface MemoryKvOptions {
  prefix?: string;
  /** Share the data of another memory kv (standalone: one store, many prefixes). */
  store?: MemoryKvStore;
  /** Clock, for tests of expiry. */
  now?: () => number;
}

export function createMemoryKvStore(): MemoryKvStore {
  return new Map();
}

const INTEGER_RE = /^-?\d+$/;

export function createMemoryKv(opts: MemoryKvOptions = {}): KeyValue {
  const prefix = opts.prefix ?? '';
  const store = opts.store ?? createMemoryKvStore();
  const now = opts.now ?? Date.now;
  let closed = false;

  const full = (key: string) => prefix + key;

  function live(key: string): Entry | undefined {
    const k = full(key);
    const e = store.get(k);
    if (!e) return undefined;
    if (e.expiresAt !== null && e.expiresAt <= now()) {
      store.delete(k);
      return undefined;
    }
    return e;
  }
  function expect<K extends Entry['kind']>(key: string, kind: K): Extract<Entry, { kind: K }> | undefined {
    const e = live(key);
    if (e && e.kind !== kind) throw new KeyValueTypeError(key);
    return e as Extract<Entry, { kind: K }> | undefined;
  }
  function remaining(e: Entry): number {
    return e.expiresAt === null ? -1 : Math.max(0, e.expiresAt - now());
  }
  function assertOpen() {
    if (closed) throw new Error('key-value store is closed');
  }
  // Async like the Redis adapter, so callers cannot come to rely on synchronous effects.
  const op =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    async (...args: A): Promise<R> => {
      assertOpen();
      return fn(...args);
    };

  return {
    get: op((key: string) => expect(key, 'string')?.value ?? null),

    set: op((key: string, value: string, o: { ttlMs?: number; nx?: boolean } = {}) => {
      if (o.nx && live(key)) return false;
      const expiresAt = o.ttlMs !== undefined && o.ttlMs > 0 ? now() + o.ttlMs : null;
      store.set(full(key), { kind: 'string', value, expiresAt });
      return true;
    }),

    del: op((...keys: string[]) => {
      let n = 0;
      for (const key of new Set(keys)) if (live(key) && store.delete(full(key))) n++;
      return n;
    }),

    exists: op((key: string) => live(key) !== undefined),

    incr: op((key: string, o: { by?: number; ttlMs?: number } = {}) => {
      const by = o.by ?? 1;
      if (!Number.isInteger(by)) throw new Error('incr: by must be an integer');
      const e = expect(key, 'string');
      if (e && !INTEGER_RE.test(e.value)) throw new Error(`incr: value of ${key} is not an integer`);
      if (e) {
        e.value = String(Number(e.value) + by);
        return { value: Number(e.value), ttlMs: remaining(e) };
      }
      const expiresAt = o.ttlMs !== undefined && o.ttlMs > 0 ? now() + o.ttlMs : null;
      const created: Entry = { kind: 'string', value: String(by), expiresAt };
      store.set(full(key), created);
      return { value: by, ttlMs: remaining(created) };
    }),

    expire: op((key: string, ttlMs: number) => {
      const e = live(key);
      if (!e) return false;
      if (ttlMs <= 0) store.delete(full(key));
      else e.expiresAt = now() + ttlMs;
      return true;
    }),

    ttl: op((key: string) => {
      const e = live(key);
      return e ? remaining(e) : -2;
    }),

    sadd: op((key: string, ...members: string[]) => {
      let e = expect(key, 'set');
      if (!e) {
        if (members.length === 0) return 0;
        e = { kind: 'set', value: new Set(), expiresAt: null };
        store.set(full(key), e);
      }
      let n = 0;
      for (const m of members) {
        if (!e.value.has(m)) {
          e.value.add(m);
          n++;
        }
      }
      return n;
    }),

    srem: op((key: string, ...members: string[]) => {
      const e = expect(key, 'set');
      if (!e) return 0;
      let n = 0;
      for (const m of members) if (e.value.delete(m)) n++;
      if (e.value.size === 0) store.delete(full(key));
      return n;
    }),

    smembers: op((key: string) => [...(expect(key, 'set')?.value ?? [])]),
    sismember: op((key: string, member: string) => expect(key, 'set')?.value.has(member) ?? false),
    scard: op((key: string) => expect(key, 'set')?.value.size ?? 0),

    hset: op((key: string, values: Record<string, string>) => {
      const entries = Object.entries(values);
      if (entries.length === 0) return;
      let e = expect(key, 'hash');
      if (!e) {
        e = { kind: 'hash', value: new Map(), expiresAt: null };
        store.set(full(key), e);
      }
      for (const [f, v] of entries) e.value.set(f, v);
    }),

    hget: op((key: string, field: string) => expect(key, 'hash')?.value.get(field) ?? null),
    hgetall: op((key: string) => Object.fromEntries(expect(key, 'hash')?.value ?? [])),

    hdel: op((key: string, ...fields: string[]) => {
      const e = expect(key, 'hash');
      if (!e) return 0;
      let n = 0;
      for (const f of fields) if (e.value.delete(f)) n++;
      if (e.value.size === 0) store.delete(full(key));
      return n;
    }),

    mget: op((keys: string[]) =>
      keys.map((k) => {
        const e = live(k);
        return e?.kind === 'string' ? e.value : null;
      }),
    ),

    ping: op(() => undefined),

    close: async () => {
      closed = true;
    },
  };
}
