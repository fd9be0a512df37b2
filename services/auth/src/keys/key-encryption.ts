/**
 * Encryption at rest of the private signing keys: AES-256-GCM with a key
 * derived (HKDF-SHA256) from AUTH_KEY_ENCRYPTION_SECRET, the key id bound as
 * additional authenticated data so a ciphertext cannot be moved to another
 * row. Stored form: `v1.<iv>.<tag>.<ciphertext>` (base64url parts).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export class KeyEncryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyEncryptionError';
  }
}

export interface KeyEncryption {
  encrypt(plaintext: string, kid: string): string;
  decrypt(stored: string, kid: string): string;
}

export function createKeyEncryption(secret: string): KeyEncryption {
  if (secret.length < 32) throw new KeyEncryptionError('AUTH_KEY_ENCRYPTION_SECRET must be at least 32 characters');
  const key = Buffer.from(hkdfSync('sha256', secret, 'parley-auth', 'signing-key-encryption-v1', 32));
  return {
    encrypt(plaintext, kid) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(kid, 'utf8'));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return ['v1', iv.toString('base64url'), tag.toString('base64url'), data.toString('base64url')].join('.');
    },
    decrypt(stored, kid) {
      const [version, iv, tag, data] = stored.split('.');
      if (version !== 'v1' || !iv || !tag || data === undefined) {
        throw new KeyEncryptionError(`signing key ${kid}: unknown encrypted format`);
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAAD(Buffer.from(kid, 'utf8'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        throw new KeyEncryptionError(
          `signing key ${kid} cannot be decrypted: AUTH_KEY_ENCRYPTION_SECRET differs from the one that encrypted it`,
        );
      }
    },
  };
}

export const GENERATED_SECRET_FILE = 'auth-key-encryption.secret';

/**
 * The configured secret, or (when unset) one generated once and kept in
 * `<dataDir>/auth-key-encryption.secret` (mode 0600). `generated` tells the
 * caller to warn: replicas that do not share the file cannot read each
 * other's keys.
 */
export function resolveKeyEncryptionSecret(
  configured: string | undefined,
  dataDir: string,
): { secret: string; generated: boolean; file?: string } {
  if (configured) return { secret: configured, generated: false };
  const file = join(dataDir, GENERATED_SECRET_FILE);
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= 32) return { secret, generated: true, file };
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64');
  try {
    // `wx`: two processes starting at once keep the first one's secret.
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { secret: readFileSync(file, 'utf8').trim(), generated: true, file };
  }
  return { secret, generated: true, file };
}
