import { randomUUID } from 'node:crypto';
import { SignJWT, base64url } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../http/errors';
import type { KeyValue } from '../kv/key-value';
import { KeyValueUnavailableError } from '../kv/key-value';
import { createMemoryKv } from '../kv/memory-kv';
import { type TestSigner, createTestSigner } from './test-signer';
import { JwksKeyStore, bearerToken, revokedSessionKey, revokedUserKey, verifyAccessToken } from './verify';

const issuer = 'parley';
const audience = 'parley';

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('verifyAccessToken', () => {
  let ed: TestSigner;
  let es: TestSigner;
  let other: TestSigner;
  const userId = randomUUID();

  beforeAll(async () => {
    ed = await createTestSigner({ alg: 'EdDSA' });
    es = await createTestSigner({ alg: 'ES256' });
    other = await createTestSigner({ alg: 'EdDSA' });
  });
  const keys = () => async () => ({ keys: [...ed.jwks.keys, ...es.jwks.keys] });

  it.each(['EdDSA', 'ES256'] as const)('accepts a valid %s token and returns its user and session', async (alg) => {
    const signer = alg === 'EdDSA' ? ed : es;
    const sessionId = randomUUID();
    const token = await signer.sign({ userId, sessionId });
    const verified = await verifyAccessToken(token, { keys: keys(), issuer, audience });
    expect(verified).toMatchObject({ userId, sessionId });
    expect(verified.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it('rejects alg none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const now = Math.floor(Date.now() / 1000);
    const payload = base64url.encode(
      JSON.stringify({ sub: userId, sid: 's', iat: now, exp: now + 900, iss: issuer, aud: audience }),
    );
    const err = await rejection(verifyAccessToken(`${header}.${payload}.`, { keys: keys(), issuer, audience }));
    expect(err.code).toBe('unauthorized');
  });

  it('rejects HS256 signed with the public key as the secret', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(ed.jwks.keys[0]));
    const token = await new SignJWT({ sid: 's' })
      .setProtectedHeader({ alg: 'HS256', kid: ed.kid })
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime('15m')
      .setIssuer(issuer)
      .setAudience(audience)
      .sign(secret);
    const err = await rejection(verifyAccessToken(token, { keys: keys(), issuer, audience }));
    expect(err.code).toBe('unauthorized');
    expect(err.message).toBe('token algorithm not allowed');
  });

  it.each([
    ['wrong issuer', { issuer: 'evil' }, 'invalid token claim iss'],
    ['wrong audience', { audience: 'other-app' }, 'invalid token claim aud'],
    ['expired', { expiresInSec: -60 }, 'token expired'],
  ])('rejects a token with %s', async (_name, claims, message) => {
    const token = await ed.sign({ userId, ...claims });
    const err = await rejection(verifyAccessToken(token, { keys: keys(), issuer, audience }));
    expect(err.statusCode).toBe(401);
    expect(err.message).toBe(message);
  });

  it('rejects an altered payload', async () => {
    const [h, , s] = (await ed.sign({ userId })).split('.');
    const now = Math.floor(Date.now() / 1000);
    const forged = base64url.encode(
      JSON.stringify({ sub: randomUUID(), sid: 's', iat: now, exp: now + 900, iss: issuer, aud: audience }),
    );
    const err = await rejection(verifyAccessToken(`${h}.${forged}.${s}`, { keys: keys(), issuer, audience }));
    expect(err.message).toBe('invalid token signature');
  });

  it('rejects a token signed by a key it does not know', async () => {
    const err = await rejection(verifyAccessToken(await other.sign({ userId }), { keys: keys(), issuer, audience }));
    expect(err.message).toBe('unknown signing key');
  });

  it('rejects garbage and a subject that is not a user id', async () => {
    expect((await rejection(verifyAccessToken('abc', { keys: keys(), issuer, audience }))).code).toBe('unauthorized');
    const token = await ed.sign({ userId: 'not-a-uuid' });
    expect((await rejection(verifyAccessToken(token, { keys: keys(), issuer, audience }))).message).toBe(
      'invalid token subject',
    );
  });

  describe('revocation', () => {
    let kv: KeyValue;
    beforeAll(() => {
      kv = createMemoryKv({ prefix: 'test:' });
    });

    it('rejects a token of a revoked session, and only that session', async () => {
      const revoked = randomUUID();
      await kv.set(revokedSessionKey(revoked), '1', { ttlMs: 60_000 });
      const err = await rejection(
        verifyAccessToken(await ed.sign({ userId, sessionId: revoked }), { keys: keys(), issuer, audience, kv }),
      );
      expect(err.message).toBe('session ended');
      const fine = await ed.sign({ userId, sessionId: randomUUID() });
      await expect(verifyAccessToken(fine, { keys: keys(), issuer, audience, kv })).resolves.toMatchObject({ userId });
    });

    it('rejects tokens of a revoked user issued up to the revocation, not later ones', async () => {
      const user = randomUUID();
      const revokedAt = Date.now();
      await kv.set(revokedUserKey(user), String(revokedAt), { ttlMs: 60_000 });
      const before = await ed.sign({ userId: user, iat: Math.floor(revokedAt / 1000) - 10 });
      const sameSecond = await ed.sign({ userId: user, iat: Math.floor(revokedAt / 1000) });
      const after = await ed.sign({ userId: user, iat: Math.floor(revokedAt / 1000) + 2 });
      expect((await rejection(verifyAccessToken(before, { keys: keys(), issuer, audience, kv }))).code).toBe(
        'unauthorized',
      );
      expect((await rejection(verifyAccessToken(sameSecond, { keys: keys(), issuer, audience, kv }))).code).toBe(
        'unauthorized',
      );
      await expect(verifyAccessToken(after, { keys: keys(), issuer, audience, kv })).resolves.toMatchObject({
        userId: user,
      });
    });

    it('fails open with a warning when the key-value store is down', async () => {
      const down = createMemoryKv();
      down.mget = async () => {
        throw new KeyValueUnavailableError();
      };
      const warnings: unknown[] = [];
      const token = await ed.sign({ userId });
      await expect(
        verifyAccessToken(token, {
          keys: keys(),
          issuer,
          audience,
          kv: down,
          logger: { warn: (...args: unknown[]) => void warnings.push(args) },
        }),
      ).resolves.toMatchObject({ userId });
      expect(warnings).toHaveLength(1);
    });
  });
});

describe('JwksKeyStore', () => {
  it('refetches on an unknown kid, at most once per interval', async () => {
    const first = await createTestSigner();
    const rotated = await createTestSigner();
    let now = 0;
    let served = first.jwks;
    let fetches = 0;
    const store = new JwksKeyStore(
      async () => {
        fetches++;
        return served;
      },
      { now: () => now },
    );
    const opts = { keys: store, issuer, audience };
    const userId = randomUUID();

    await verifyAccessToken(await first.sign({ userId }), opts);
    expect(fetches).toBe(1);
    await verifyAccessToken(await first.sign({ userId }), opts);
    expect(fetches).toBe(1);

    // The auth service rotated its key: the first unknown kid triggers one refetch...
    served = { keys: [...first.jwks.keys, ...rotated.jwks.keys] };
    now = 1000;
    await expect(verifyAccessToken(await rotated.sign({ userId }), opts)).resolves.toMatchObject({ userId });
    expect(fetches).toBe(2);

    // ...but a flood of unknown kids within the interval does not hammer the source.
    const stranger = await createTestSigner();
    now = 1500;
    for (let i = 0; i < 5; i++) {
      await expect(verifyAccessToken(await stranger.sign({ userId }), opts)).rejects.toThrow('unknown signing key');
    }
    expect(fetches).toBe(2);
    now = 2100;
    await expect(verifyAccessToken(await stranger.sign({ userId }), opts)).rejects.toThrow('unknown signing key');
    expect(fetches).toBe(3);
  });

  it('answers 503 when no keys can be fetched at all, and keeps stale keys when a refresh fails', async () => {
    const signer = await createTestSigner();
    let up = false;
    let now = 0;
    const store = new JwksKeyStore(
      async () => {
        if (!up) throw new Error('no responders');
        return signer.jwks;
      },
      { now: () => now, maxAgeMs: 10_000 },
    );
    const opts = { keys: store, issuer, audience };
    const token = await signer.sign({ userId: randomUUID() });
    const err = await rejection(verifyAccessToken(token, opts));
    expect(err.code).toBe('unavailable');
    expect(err.statusCode).toBe(503);

    up = true;
    now = 2000;
    await expect(verifyAccessToken(token, opts)).resolves.toBeDefined();
    up = false;
    now = 20_000; // keys are old, the refresh fails: the cached keys still verify
    await expect(verifyAccessToken(token, opts)).resolves.toBeDefined();
  });
});

describe('verified-token cache', () => {
  let signer: TestSigner;
  beforeAll(async () => {
    signer = await createTestSigner();
  });

  /** A key store whose signature checks (key look-ups by jose) are counted. */
  function countingStore(opts: ConstructorParameters<typeof JwksKeyStore>[1] = {}, source = signer.keys) {
    const store = new JwksKeyStore(source, opts);
    const getKey = store.getKey;
    const counted = { store, checks: 0 };
    Object.defineProperty(store, 'getKey', {
      value: (...args: Parameters<typeof getKey>) => {
        counted.checks++;
        return getKey(...args);
      },
    });
    return counted;
  }

  it('checks the signature of a token once, then answers it from the cache', async () => {
    const c = countingStore();
    const userId = randomUUID();
    const sessionId = randomUUID();
    const token = await signer.sign({ userId, sessionId });
    for (let i = 0; i < 5; i++) {
      await expect(verifyAccessToken(token, { keys: c.store, issuer, audience })).resolves.toMatchObject({
        userId,
        sessionId,
      });
    }
    expect(c.checks).toBe(1);
  });

  it('still refuses a cached token once its session or its user is revoked', async () => {
    const c = countingStore();
    const kv = createMemoryKv({ prefix: 'cache:' });
    const userId = randomUUID();
    const sessionId = randomUUID();
    const token = await signer.sign({ userId, sessionId });
    await verifyAccessToken(token, { keys: c.store, issuer, audience, kv });

    await kv.set(revokedSessionKey(sessionId), '1', { ttlMs: 60_000 });
    expect((await rejection(verifyAccessToken(token, { keys: c.store, issuer, audience, kv }))).message).toBe(
      'session ended',
    );

    const other = await signer.sign({ userId, sessionId: randomUUID(), iat: Math.floor(Date.now() / 1000) - 10 });
    await verifyAccessToken(other, { keys: c.store, issuer, audience, kv });
    await kv.set(revokedUserKey(userId), String(Date.now()), { ttlMs: 60_000 });
    expect((await rejection(verifyAccessToken(other, { keys: c.store, issuer, audience, kv }))).message).toBe(
      'session ended',
    );
    expect(c.checks).toBe(2);
  });

  it('refuses a cached token once it has expired', async () => {
    const c = countingStore({ verifiedCacheTtlMs: 3_600_000 });
    const iat = Math.floor(Date.now() / 1000);
    const token = await signer.sign({ userId: randomUUID(), iat, expiresInSec: 30 });
    const at = (sec: number) => ({ keys: c.store, issuer, audience, currentDate: new Date((iat + sec) * 1000) });
    await expect(verifyAccessToken(token, at(1))).resolves.toBeDefined();
    await expect(verifyAccessToken(token, at(20))).resolves.toBeDefined();
    expect(c.checks).toBe(1);
    expect((await rejection(verifyAccessToken(token, at(40)))).message).toBe('token expired');
  });

  it('checks the signature again after the cache lifetime', async () => {
    const c = countingStore({ verifiedCacheTtlMs: 10_000 });
    const iat = Math.floor(Date.now() / 1000);
    const token = await signer.sign({ userId: randomUUID(), iat });
    const at = (sec: number) => ({ keys: c.store, issuer, audience, currentDate: new Date((iat + sec) * 1000) });
    await verifyAccessToken(token, at(0));
    await verifyAccessToken(token, at(5));
    expect(c.checks).toBe(1);
    await verifyAccessToken(token, at(11));
    expect(c.checks).toBe(2);
  });

  it('does not answer another issuer or audience from the cache', async () => {
    const c = countingStore();
    const token = await signer.sign({ userId: randomUUID() });
    await verifyAccessToken(token, { keys: c.store, issuer, audience });
    expect((await rejection(verifyAccessToken(token, { keys: c.store, issuer, audience: 'other-app' }))).message).toBe(
      'invalid token claim aud',
    );
    expect((await rejection(verifyAccessToken(token, { keys: c.store, issuer: 'evil', audience }))).message).toBe(
      'invalid token claim iss',
    );
    await expect(verifyAccessToken(token, { keys: c.store, issuer, audience })).resolves.toBeDefined();
  });

  it('keeps at most its bound of tokens, dropping the least recently used', async () => {
    const c = countingStore({ verifiedCacheMaxEntries: 3 });
    const tokens = await Promise.all(Array.from({ length: 5 }, () => signer.sign({ userId: randomUUID() })));
    for (const t of tokens) await verifyAccessToken(t, { keys: c.store, issuer, audience });
    expect(c.store.verified.size).toBe(3);
    expect(c.checks).toBe(5);
    // The three newest are cached; the first was dropped and is checked again.
    for (const t of tokens.slice(2)) await verifyAccessToken(t, { keys: c.store, issuer, audience });
    expect(c.checks).toBe(5);
    await verifyAccessToken(tokens[0]!, { keys: c.store, issuer, audience });
    expect(c.checks).toBe(6);
    expect(c.store.verified.size).toBe(3);
  });

  it('stops accepting cached tokens of a key the key set no longer has', async () => {
    const rotated = await createTestSigner();
    let served = { keys: [...signer.jwks.keys, ...rotated.jwks.keys] };
    const c = countingStore({}, async () => served);
    const old = await signer.sign({ userId: randomUUID() });
    const fresh = await rotated.sign({ userId: randomUUID() });
    await verifyAccessToken(old, { keys: c.store, issuer, audience });
    await verifyAccessToken(fresh, { keys: c.store, issuer, audience });
    expect(c.checks).toBe(2);

    served = { keys: rotated.jwks.keys };
    await c.store.refresh(true);
    expect((await rejection(verifyAccessToken(old, { keys: c.store, issuer, audience }))).message).toBe(
      'unknown signing key',
    );
    await expect(verifyAccessToken(fresh, { keys: c.store, issuer, audience })).resolves.toBeDefined();
  });

  it('keeps the cache when a refresh brings the same keys', async () => {
    const c = countingStore();
    const token = await signer.sign({ userId: randomUUID() });
    await verifyAccessToken(token, { keys: c.store, issuer, audience });
    await c.store.refresh(true);
    await verifyAccessToken(token, { keys: c.store, issuer, audience });
    expect(c.checks).toBe(1);
  });
});

describe('bearerToken', () => {
  it('extracts the token of a Bearer header, case-insensitively', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc.def.ghi')).toBe('abc.def.ghi');
  });
  it('refuses other schemes and junk', () => {
    expect(bearerToken('Basic dXNlcjpwdw==')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
