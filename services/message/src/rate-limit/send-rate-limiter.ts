/**
 * Per-user send limit (API.md: 60/min, burst 20, REST and WebSocket together)
 * as a token bucket shared by every replica through the key-value store.
 *
 * The bucket is kept in its GCRA form, one integer per user: the theoretical
 * arrival time (TAT, ms epoch) of the next send once the bucket is empty.
 * With T = one token's refill time and tau = (burst - 1) * T, a send at `now`
 * is allowed when TAT - now <= tau, and moves TAT to max(TAT, now) + T.
 * The key expires when TAT passes (bucket full again), so "no key" means a
 * full bucket. Only atomic KV operations are used (SET NX, INCRBY), so
 * concurrent sends of one user on several replicas each take their own token:
 * - no key: SET NX to now + T (allowed);
 * - key: INCRBY T returns the new TAT; over the limit, INCRBY -T gives the
 *   token back; else the TTL is moved to the new TAT.
 * When the store is unavailable the limiter fails open (sending is the
 * product; the gateway's request limits still apply), with a warning.
 */
import { KeyValueUnavailableError, type KeyValue } from '@parley/service-kit';
import type { Logger } from 'pino';

export interface SendRateLimiterOptions {
  kv: KeyValue;
  perMinute: number;
  burst: number;
  logger: Pick<Logger, 'warn'>;
  now?: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

const keyOf = (userId: string) => `rl:send:${userId}`;

export function createSendRateLimiter(opts: SendRateLimiterOptions) {
  const now = opts.now ?? Date.now;
  const interval = Math.max(1, Math.floor(60_000 / opts.perMinute));
  const tolerance = (opts.burst - 1) * interval;
  let lastWarn = 0;

  function failOpen(err: unknown): RateDecision {
    if (!(err instanceof KeyValueUnavailableError)) throw err;
    if (now() - lastWarn > 10_000) {
      lastWarn = now();
      opts.logger.warn({ err: err.message }, 'send rate limit not enforced: key-value store unavailable');
    }
    return { allowed: true };
  }

  async function take(userId: string): Promise<RateDecision> {
    const key = keyOf(userId);
    const t = now();
    try {
      if (await opts.kv.set(key, String(t + interval), { nx: true, ttlMs: interval })) return { allowed: true };
      // The key may expire between the two calls: INCRBY then creates it from
      // 0 with a short TTL, seen below as a TAT far in the past.
      const { value } = await opts.kv.incr(key, { by: interval, ttlMs: interval });
      const previous = value - interval;
      if (previous < t - 60_000) {
        await opts.kv.set(key, String(t + interval), { ttlMs: interval });
        return { allowed: true };
      }
      if (previous - t > tolerance) {
        await opts.kv.incr(key, { by: -interval });
        return { allowed: false, retryAfterMs: previous - tolerance - t };
      }
      await opts.kv.expire(key, Math.max(1, value - t));
      return { allowed: true };
    } catch (err) {
      return failOpen(err);
    }
  }

  /** Gives a token back (a send that turned out to be a retry of a stored message). */
  async function refund(userId: string): Promise<void> {
    try {
      const key = keyOf(userId);
      if (await opts.kv.exists(key)) await opts.kv.incr(key, { by: -interval });
    } catch (err) {
      failOpen(err);
    }
  }

  return { take, refund };
}

export type SendRateLimiter = ReturnType<typeof createSendRateLimiter>;
