import { importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { signAccessToken } from '../sessions/tokens';
import { createKeyEncryption } from './key-encryption';
import type { SigningKeyRepository, StoredSigningKey } from './signing-key.repository';
import { createSigningKeyRing } from './signing-key.service';

/** In-memory stand-in with the repository's semantics (rotation keeps a newer key). */
function fakeRepository(): SigningKeyRepository & { rows: StoredSigningKey[] } {
  const rows: StoredSigningKey[] = [];
  const newest = () =>
    rows.filter((r) => r.retiredAt === null).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0] ?? null;
  return {
    rows,
    async current() {
      return newest();
    },
    async published(retiredAfter) {
      return rows.filter((r) => r.retiredAt === null || r.retiredAt > retiredAfter);
    },
    async rotate(dueBefore, now, make) {
      const existing = newest();
      if (existing && existing.createdAt > dueBefore) return existing;
      const key = { ...(await make()), createdAt: now, retiredAt: null };
      for (const r of rows) if (r.retiredAt === null) r.retiredAt = now;
      rows.push(key);
      return key;
    },
  };
}

const DAY = 24 * 3600 * 1000;
const encryption = createKeyEncryption('unit-test-secret-unit-test-secret-123');

function ring(repository: SigningKeyRepository, clock: { now: Date }) {
  return createSigningKeyRing({
    repository,
    encryption,
    rotationDays: 30,
    tokenLifetimeSeconds: 900,
    cacheMs: 0,
    now: () => clock.now,
  });
}

describe('signing key ring', () => {
  it('creates an Ed25519 key whose public half verifies its tokens', async () => {
    const repo = fakeRepository();
    const keys = ring(repo, { now: new Date() });
    const signing = await keys.signingKey();
    const { keys: jwks } = await keys.jwks();
    expect(jwks).toHaveLength(1);
    expect(jwks[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: signing.kid });
    expect(jwks[0]).not.toHaveProperty('d');
    expect(repo.rows[0]!.privateKeyEncrypted).not.toContain('"d"');

    const token = await signAccessToken(
      signing,
      { userId: '0190f3a2-7b1c-7d2e-8f00-aabbccddeeff', sessionId: '0190f3a2-7b1c-7d2e-8f00-000000000001' },
      { issuer: 'parley', audience: 'parley' },
    );
    const verified = await jwtVerify(token, await importJWK(jwks[0]!, 'EdDSA'), {
      issuer: 'parley',
      audience: 'parley',
    });
    expect(verified.protectedHeader.kid).toBe(signing.kid);
  });

  it('reuses the stored key across restarts', async () => {
    const repo = fakeRepository();
    const clock = { now: new Date() };
    const first = await ring(repo, clock).signingKey();
    const second = await ring(repo, clock).signingKey();
    expect(second.kid).toBe(first.kid);
    expect(repo.rows).toHaveLength(1);
  });

  it('rotates an old key and keeps the previous one published until its tokens expired', async () => {
    const repo = fakeRepository();
    const clock = { now: new Date('2026-01-01T00:00:00Z') };
    const keys = ring(repo, clock);
    const old = await keys.signingKey();

    clock.now = new Date(clock.now.getTime() + 31 * DAY);
    const current = await keys.signingKey();
    expect(current.kid).not.toBe(old.kid);
    expect((await keys.jwks()).keys.map((k) => k.kid).sort()).toEqual([old.kid, current.kid].sort());

    // 15 min tokens + cache margin later, the previous key is no longer published.
    clock.now = new Date(clock.now.getTime() + 20 * 60 * 1000);
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([current.kid]);
  });
});
