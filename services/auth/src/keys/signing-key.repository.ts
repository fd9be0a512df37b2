/**
 * Storage of the signing keys. The only file of `keys/` that speaks drizzle.
 */
import type { DatabaseHandle } from '@parley/service-kit';
import { and, desc, gt, isNull, ne, or, sql } from 'drizzle-orm';
import { signingKeys } from '../db/schema';

export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateKeyEncrypted: string;
  createdAt: Date;
  retiredAt: Date | null;
}

function toKey(row: typeof signingKeys.$inferSelect): StoredSigningKey {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.publicJwk,
    privateKeyEncrypted: row.privateKeyEncrypted,
    createdAt: row.createdAt,
    retiredAt: row.retiredAt,
  };
}

export function createSigningKeyRepository(handle: DatabaseHandle) {
  const { db } = handle;
  return {
    /** The key that signs now: the newest one not retired. */
    async current(): Promise<StoredSigningKey | null> {
      const rows = await db
        .select()
        .from(signingKeys)
        .where(isNull(signingKeys.retiredAt))
        .orderBy(desc(signingKeys.createdAt))
        .limit(1);
      return rows[0] ? toKey(rows[0]) : null;
    },

    /** Keys whose tokens may still be valid: unretired, or retired after `retiredAfter`. */
    async published(retiredAfter: Date): Promise<StoredSigningKey[]> {
      const rows = await db
        .select()
        .from(signingKeys)
        .where(or(isNull(signingKeys.retiredAt), gt(signingKeys.retiredAt, retiredAfter)))
        .orderBy(desc(signingKeys.createdAt));
      return rows.map(toKey);
    },

    /**
     * Installs `make()`'s key as the current one unless another replica did
     * so meanwhile: under a transaction-scoped advisory lock, re-reads the
     * current key and keeps it when it was created after `dueBefore`;
     * otherwise inserts the new key and retires every other unretired one.
     */
    async rotate(
      dueBefore: Date,
      now: Date,
      make: () => Promise<Omit<StoredSigningKey, 'retiredAt' | 'createdAt'>>,
    ): Promise<StoredSigningKey> {
      return db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext('auth.signing_keys'))`);
        const rows = await tx
          .select()
          .from(signingKeys)
          .where(isNull(signingKeys.retiredAt))
          .orderBy(desc(signingKeys.createdAt))
          .limit(1);
        const existing = rows[0];
        if (existing && existing.createdAt > dueBefore) return toKey(existing);
        const key = await make();
        const [inserted] = await tx
          .insert(signingKeys)
          .values({ ...key, createdAt: now, retiredAt: null })
          .returning();
        await tx
          .update(signingKeys)
          .set({ retiredAt: now })
          .where(and(isNull(signingKeys.retiredAt), ne(signingKeys.kid, key.kid)));
        return toKey(inserted!);
      });
    },
  };
}
export type SigningKeyRepository = ReturnType<typeof createSigningKeyRepository>;
