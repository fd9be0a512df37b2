import { describe, expect, it } from 'vitest';
import { commonPasswordCount, isCommonPassword } from './common-passwords';
import { ARGON2_OPTIONS, createPasswordHasher } from './password-hasher';

describe('common password list', () => {
  it('ships at least 1,000 passwords', () => {
    expect(commonPasswordCount()).toBeGreaterThanOrEqual(1000);
  });
  it('matches regardless of letter case', () => {
    expect(isCommonPassword('qwertyuiop')).toBe(true);
    expect(isCommonPassword('QWERTYuiop')).toBe(true);
    expect(isCommonPassword('vQ7#mT2!kd9Lz')).toBe(false);
  });
});

describe('password hasher', () => {
  const hasher = createPasswordHasher();

  it('hashes with argon2id, 19 MiB, 2 iterations, parallelism 1', async () => {
    expect(ARGON2_OPTIONS.memoryCost).toBeGreaterThanOrEqual(19_456);
    const hash = await hasher.hash('correct horse battery');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(hash).not.toContain('correct horse battery');
  });

  it('verifies the right password only', async () => {
    const hash = await hasher.hash('correct horse battery');
    expect(await hasher.verifyOrDummy(hash, 'correct horse battery')).toBe(true);
    expect(await hasher.verifyOrDummy(hash, 'correct horse batterY')).toBe(false);
  });

  it('answers false for a missing or corrupt hash (after the same work)', async () => {
    expect(await hasher.verifyOrDummy(null, 'anything at all')).toBe(false);
    expect(await hasher.verifyOrDummy('not-a-hash', 'anything at all')).toBe(false);
  });
});
