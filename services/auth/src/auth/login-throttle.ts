/**
 * Login throttling: at most `limit` attempts per minute per client IP and per
 * e-mail address, counted in the shared key-value store so the limit holds
 * across replicas. Fixed one-minute windows that start at the first attempt;
 * nothing longer, so an attacker cannot lock a victim out for more than the
 * rest of a minute (no account lockout). E-mails are hashed in the keys
 * (no addresses in Redis).
 *
 * Fails closed: when the store cannot count, login answers 503 instead of
 * letting unlimited password guesses through (PITFALLS, ioredis).
 */
import { createHash } from 'node:crypto';
import type { KeyValue } from '@parley/service-kit';

export const LOGIN_WINDOW_MS = 60_000;

export interface ThrottleVerdict {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the binding window resets. */
  resetSeconds: number;
}

export class ThrottleUnavailableError extends Error {
  constructor(cause: unknown) {
    super('login throttle store unavailable', { cause });
    this.name = 'ThrottleUnavailableError';
  }
}

function emailKey(email: string): string {
  return `login-attempts:email:${createHash('sha256').update(email.toLowerCase()).digest('hex')}`;
}
function ipKey(ip: string): string {
  return `login-attempts:ip:${ip}`;
}

export function createLoginThrottle(kv: KeyValue, limit: number) {
  async function count(key: string): Promise<{ value: number; ttlMs: number }> {
    const r = await kv.incr(key, { ttlMs: LOGIN_WINDOW_MS });
    // A counter left without expiry (a lost EXPIRE) would block forever: give it its window.
    if (r.ttlMs < 0) {
      await kv.expire(key, LOGIN_WINDOW_MS);
      return { value: r.value, ttlMs: LOGIN_WINDOW_MS };
    }
    return r;
  }

  return {
    limit,
    /** Counts one attempt from `ip` for `email` and says whether it may proceed. */
    async attempt(ip: string, email: string): Promise<ThrottleVerdict> {
      let counters: { value: number; ttlMs: number }[];
      try {
        counters = await Promise.all([count(ipKey(ip)), count(emailKey(email))]);
      } catch (err) {
        throw new ThrottleUnavailableError(err);
      }
      const over = counters.filter((c) => c.value > limit);
      const binding = over.length > 0 ? over : counters;
      const resetMs = Math.max(...binding.map((c) => c.ttlMs));
      const used = Math.max(...counters.map((c) => c.value));
      return {
        allowed: over.length === 0,
        limit,
        remaining: Math.max(0, limit - used),
        resetSeconds: Math.max(1, Math.ceil(resetMs / 1000)),
      };
    },
    /** A successful login clears the e-mail's counter (typos before it do not count against the owner). */
    async succeeded(email: string): Promise<void> {
      await kv.del(emailKey(email)).catch(() => 0);
    },
  };
}
export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
