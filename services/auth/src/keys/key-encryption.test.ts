import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createKeyEncryption,
  GENERATED_SECRET_FILE,
  KeyEncryptionError,
  resolveKeyEncryptionSecret,
} from './key-encryption';

const secret = 'a-test-secret-of-more-than-32-characters!';

describe('key encryption', () => {
  it('round-trips and never stores the plaintext', () => {
    const enc = createKeyEncryption(secret);
    const stored = enc.encrypt('{"d":"private"}', 'kid-1');
    expect(stored).not.toContain('private');
    expect(enc.decrypt(stored, 'kid-1')).toBe('{"d":"private"}');
  });

  it('refuses another secret and another key id', () => {
    const stored = createKeyEncryption(secret).encrypt('{"d":"private"}', 'kid-1');
    expect(() => createKeyEncryption(`${secret}-other`).decrypt(stored, 'kid-1')).toThrow(KeyEncryptionError);
    expect(() => createKeyEncryption(secret).decrypt(stored, 'kid-2')).toThrow(/AUTH_KEY_ENCRYPTION_SECRET/);
  });

  it('refuses a short secret', () => {
    expect(() => createKeyEncryption('short')).toThrow(KeyEncryptionError);
  });
});

describe('generated secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-auth-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('uses the configured secret when there is one', () => {
    expect(resolveKeyEncryptionSecret(secret, dir)).toEqual({ secret, generated: false });
  });

  it('generates one secret, keeps it private beside the data and reuses it', () => {
    const first = resolveKeyEncryptionSecret(undefined, dir);
    expect(first.generated).toBe(true);
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    const file = join(dir, GENERATED_SECRET_FILE);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.secret);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(resolveKeyEncryptionSecret(undefined, dir).secret).toBe(first.secret);
  });
});
