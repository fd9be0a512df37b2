import { createMemoryKv, type KeyValue, KeyValueUnavailableError } from '@parley/service-kit';
import { describe, expect, it } from 'vitest';
import { createLoginThrottle, ThrottleUnavailableError } from './login-throttle';

describe('login throttle', () => {
  it('lets 10 attempts a minute through per e-mail and refuses the 11th', async () => {
    const throttle = createLoginThrottle(createMemoryKv(), 10);
    for (let i = 1; i <= 10; i++) {
      const v = await throttle.attempt(`10.0.0.${i}`, 'ada@example.com');
      expect(v.allowed).toBe(true);
      expect(v.remaining).toBe(10 - i);
    }
    const refused = await throttle.attempt('10.0.0.99', 'ADA@example.com');
    expect(refused).toMatchObject({ allowed: false, limit: 10, remaining: 0 });
    expect(refused.resetSeconds).toBeGreaterThan(0);
    expect(refused.resetSeconds).toBeLessThanOrEqual(60);
  });

  it('limits one IP across e-mails, and other IPs and e-mails are unaffected', async () => {
    const throttle = createLoginThrottle(createMemoryKv(), 3);
    for (let i = 0; i < 3; i++) expect((await throttle.attempt('10.0.0.1', `u${i}@example.com`)).allowed).toBe(true);
    expect((await throttle.attempt('10.0.0.1', 'another@example.com')).allowed).toBe(false);
    expect((await throttle.attempt('10.0.0.2', 'another@example.com')).allowed).toBe(true);
  });

  it('a successful login clears the e-mail counter only', async () => {
    const throttle = createLoginThrottle(createMemoryKv(), 2);
    await throttle.attempt('10.0.0.1', 'ada@example.com');
    await throttle.attempt('10.0.0.2', 'ada@example.com');
    await throttle.succeeded('ada@example.com');
    expect((await throttle.attempt('10.0.0.3', 'ada@example.com')).allowed).toBe(true);
    expect((await throttle.attempt('10.0.0.1', 'x@example.com')).allowed).toBe(true);
    expect((await throttle.attempt('10.0.0.1', 'y@example.com')).allowed).toBe(false);
  });

  it('fails closed when the store cannot count', async () => {
    const kv = createMemoryKv();
    const broken: KeyValue = {
      ...kv,
      incr: async () => {
        throw new KeyValueUnavailableError();
      },
    };
    await expect(createLoginThrottle(broken, 10).attempt('10.0.0.1', 'ada@example.com')).rejects.toBeInstanceOf(
      ThrottleUnavailableError,
    );
  });
});
