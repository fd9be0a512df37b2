/**
 * Redis KeyValue (ioredis). Tuned to fail fast instead of hanging while Redis
 * is away (PITFALLS, ioredis): no offline queue, one retry per request, short
 * connect and command timeouts, and no re-sending of commands that were in
 * flight at a disconnect (an INCR must not count twice). Every failure to
 * reach Redis surfaces as KeyValueUnavailableError so callers decide to fail
 * open (presence, caches) or closed (login limits). The client reconnects by
 * itself in the background with a capped backoff.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { type KeyValue, KeyValueUnavailableError } from './key-value';

export interface RedisKvOptions {
  url: string;
  /** Prepended to every key (per deployment / per test file), e.g. `parley:`. */
  prefix?: string;
  /** Connect timeout in ms (default 1000). */
  connectTimeoutMs?: number;
  /** Per-command timeout in ms (default 2000). */
  commandTimeoutMs?: number;
  /**
   * Send the commands issued in one event-loop turn as one pipeline (one
   * socket write) instead of one write each (default false). Pays off for a
   * process issuing many commands at once (a gateway taking a burst of
   * connections: five presence commands each); costs a little per command
   * when commands come one or two at a time (measured: services/message
   * README).
   */
  autoPipelining?: boolean;
  logger?: Logger;
}

// INCRBY and, for a key that did not exist, PEXPIRE in one atomic step.
// Returns { value, pttl }.
const INCR_WITH_TTL = `
local existed = redis.call('EXISTS', KEYS[1])
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if existed == 0 and ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return { v, redis.call('PTTL', KEYS[1]) }
`;

type RedisWithScripts = Redis & {
  parleyIncr(key: string, by: number, ttlMs: number): Promise<[number, number]>;
};

/** Errors that mean "Redis cannot be reached", as opposed to a bad command. */
function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const name = err.name;
  const msg = err.message;
  const code = (err as { code?: string }).code;
  return (
    name === 'MaxRetriesPerRequestError' ||
    (code !== undefined && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN)$/.test(code)) ||
    /Stream isn't writeable|Connection is closed|Command timed out|connect ETIMEDOUT|enableOfflineQueue|ECONNREFUSED|LOADING|Reached the max retries/i.test(
      msg,
    )
  );
}

export function createRedisKv(opts: RedisKvOptions): KeyValue {
  const connectTimeout = opts.connectTimeoutMs ?? 1000;
  const options: RedisOptions = {
    keyPrefix: opts.prefix ?? '',
    connectTimeout,
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // Reconnect forever with a capped backoff; calls fail fast meanwhile.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
    lazyConnect: false,
    enableAutoPipelining: opts.autoPipelining ?? false,
  };
  const client = new Redis(opts.url, options) as RedisWithScripts;
  client.defineCommand('parleyIncr', { numberOfKeys: 1, lua: INCR_WITH_TTL });

  // Without a listener ioredis prints every connection error; log at most one
  // per outage instead.
  let lastErrorLogged = false;
  client.on('error', (err: Error) => {
    if (!lastErrorLogged) opts.logger?.warn({ err: err.message }, 'redis unavailable');
    lastErrorLogged = true;
  });
  client.on('ready', () => {
    if (lastErrorLogged) opts.logger?.info('redis available again');
    lastErrorLogged = false;
  });

  let closing = false;

  // Right after creation the client is still connecting: wait for it (bounded
  // by the connect timeout) rather than failing the first calls of a healthy
  // process. While it is reconnecting after an outage, fail at once.
  function ready(): Promise<void> {
    if (closing) return Promise.reject(new KeyValueUnavailableError(new Error('closed')));
    const s = client.status;
    if (s === 'ready') return Promise.resolve();
    if (s !== 'connecting' && s !== 'connect' && s !== 'wait') {
      return Promise.reject(new KeyValueUnavailableError(new Error(`redis ${s}`)));
    }
    return new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('error', onError);
        client.off('end', onError);
      };
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onError = (err?: unknown) => {
        cleanup();
        reject(new KeyValueUnavailableError(err));
      };
      const timer = setTimeout(() => onError(new Error('redis connect timeout')), connectTimeout + 100);
      client.once('ready', onReady);
      client.once('error', onError);
      client.once('end', onError);
    });
  }

  async function call<T>(fn: () => Promise<T>): Promise<T> {
    await ready();
    try {
      return await fn();
    } catch (err) {
      if (isUnavailable(err)) throw new KeyValueUnavailableError(err);
      throw err;
    }
  }

  return {
    get: (key) => call(() => client.get(key)),
    set: (key, value, o = {}) =>
      call(async () => {
        const ttl = o.ttlMs !== undefined && o.ttlMs > 0 ? Math.ceil(o.ttlMs) : undefined;
        let res: string | null;
        if (ttl !== undefined && o.nx) res = await client.set(key, value, 'PX', ttl, 'NX');
        else if (ttl !== undefined) res = await client.set(key, value, 'PX', ttl);
        else if (o.nx) res = await client.set(key, value, 'NX');
        else res = await client.set(key, value);
        return res === 'OK';
      }),
    del: (...keys) => (keys.length === 0 ? Promise.resolve(0) : call(() => client.del(...keys))),
    exists: (key) => call(async () => (await client.exists(key)) === 1),
    incr: (key, o = {}) =>
      call(async () => {
        const by = o.by ?? 1;
        if (!Number.isInteger(by)) throw new Error('incr: by must be an integer');
        const ttl = o.ttlMs !== undefined && o.ttlMs > 0 ? Math.ceil(o.ttlMs) : 0;
        const [value, ttlMs] = await client.parleyIncr(key, by, ttl);
        return { value: Number(value), ttlMs: Number(ttlMs) };
      }),
    expire: (key, ttlMs) =>
      call(async () => {
        if (ttlMs <= 0) return (await client.del(key)) === 1;
        return (await client.pexpire(key, Math.ceil(ttlMs))) === 1;
      }),
    ttl: (key) => call(() => client.pttl(key)),
    sadd: (key, ...members) => (members.length === 0 ? Promise.resolve(0) : call(() => client.sadd(key, ...members))),
    srem: (key, ...members) => (members.length === 0 ? Promise.resolve(0) : call(() => client.srem(key, ...members))),
    smembers: (key) => call(() => client.smembers(key)),
    sismember: (key, member) => call(async () => (await client.sismember(key, member)) === 1),
    scard: (key) => call(() => client.scard(key)),
    hset: (key, values) =>
      call(async () => {
        if (Object.keys(values).length > 0) await client.hset(key, values);
      }),
    hget: (key, field) => call(() => client.hget(key, field)),
    hgetall: (key) => call(() => client.hgetall(key)),
    hdel: (key, ...fields) => (fields.length === 0 ? Promise.resolve(0) : call(() => client.hdel(key, ...fields))),
    mget: (keys) => (keys.length === 0 ? Promise.resolve([]) : call(() => client.mget(...keys))),
    ping: () =>
      call(async () => {
        await client.ping();
      }),
    close: async () => {
      if (closing) return;
      closing = true;
      try {
        if (client.status === 'ready') await client.quit();
        else client.disconnect();
      } catch {
        client.disconnect();
      }
    },
  };
}
