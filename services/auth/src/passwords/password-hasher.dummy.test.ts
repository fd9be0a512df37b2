import { beforeEach, describe, expect, it, vi } from 'vitest';

// Counts the argon2 verifications without changing what they compute.
const calls = vi.hoisted(() => ({ verify: 0 }));
vi.mock('@node-rs/argon2', async (importOriginal) => {
  const real = await importOriginal<typeof import('@node-rs/argon2')>();
  return {
    ...real,
    verify: (...args: Parameters<typeof real.verify>) => {
      calls.verify++;
      return real.verify(...args);
    },
  };
});

const { createPasswordHasher } = await import('./password-hasher');

describe('login timing parity', () => {
  beforeEach(() => {
    calls.verify = 0;
  });

  it('runs one full argon2 verification for an unknown account, as for a known one', async () => {
    const hasher = createPasswordHasher();
    const stored = await hasher.hash('correct horse battery');
    calls.verify = 0;
    await hasher.verifyOrDummy(stored, 'wrong horse battery');
    expect(calls.verify).toBe(1);
    calls.verify = 0;
    await hasher.verifyOrDummy(null, 'wrong horse battery');
    expect(calls.verify).toBe(1);
  });
});
