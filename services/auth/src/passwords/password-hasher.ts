/**
 * argon2id password hashing (PITFALLS: at least 19 MiB, 2 iterations,
 * parallelism 1). `verifyOrDummy` spends the same work whether or not the
 * account exists, so login timing does not reveal which e-mails are
 * registered.
 */
import { type Algorithm, hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id: a const enum, which verbatimModuleSyntax cannot import as a value.
const ARGON2ID = 2 as Algorithm;

export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Verifies against `stored`, or against a dummy hash when there is none (always false then). */
  verifyOrDummy(stored: string | null, password: string): Promise<boolean>;
}

export function createPasswordHasher(): PasswordHasher {
  let dummy: Promise<string> | undefined;
  const dummyHash = () => {
    dummy ??= hash('parley-dummy-password-for-timing', ARGON2_OPTIONS);
    return dummy;
  };
  return {
    hash: (password) => hash(password, ARGON2_OPTIONS),
    async verifyOrDummy(stored, password) {
      if (stored) {
        try {
          return await verify(stored, password);
        } catch {
          return false;
        }
      }
      await verify(await dummyHash(), password).catch(() => false);
      return false;
    },
  };
}
