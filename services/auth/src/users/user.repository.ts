/**
 * Accounts. The only file of `users/` that speaks drizzle; returns plain
 * domain objects. Deleted accounts (tombstones) are never returned.
 */
import type { DbOrTx } from '@parley/service-kit';
import { and, asc, eq, inArray, isNull, like, or, type SQL, sql } from 'drizzle-orm';
import { users } from '../db/schema';

export interface UserRecord {
  id: string;
  email: string;
  name: string;
  avatarUrl: string | null;
  statusText: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Credentials {
  userId: string;
  passwordHash: string;
}

type Row = typeof users.$inferSelect;

function toUser(row: Row): UserRecord {
  return {
    id: row.id,
    email: row.email ?? '',
    name: row.name ?? '',
    avatarUrl: row.avatarUrl,
    statusText: row.statusText,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Postgres unique violation (drizzle wraps the driver's error in `cause`). */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    if (e.code === '23505') return true;
    e = e.cause as typeof e;
  }
  return false;
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export interface UserSearch {
  /** Lower-cased query; empty lists everyone. */
  query: string;
  limit: number;
  after?: { name: string; id: string };
}

export const userRepository = {
  async insert(
    on: DbOrTx,
    u: { id: string; email: string; name: string; passwordHash: string; now: Date },
  ): Promise<UserRecord> {
    const [row] = await on
      .insert(users)
      .values({
        id: u.id,
        email: u.email,
        name: u.name,
        passwordHash: u.passwordHash,
        createdAt: u.now,
        updatedAt: u.now,
      })
      .returning();
    return toUser(row!);
  },

  async emailTaken(on: DbOrTx, email: string): Promise<boolean> {
    const rows = await on
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.email}) = ${email.toLowerCase()}`)
      .limit(1);
    return rows.length > 0;
  },

  async findCredentialsByEmail(on: DbOrTx, email: string): Promise<Credentials | null> {
    const rows = await on
      .select({ id: users.id, passwordHash: users.passwordHash })
      .from(users)
      .where(and(sql`lower(${users.email}) = ${email.toLowerCase()}`, isNull(users.deletedAt)))
      .limit(1);
    const row = rows[0];
    return row?.passwordHash ? { userId: row.id, passwordHash: row.passwordHash } : null;
  },

  async findCredentialsById(on: DbOrTx, id: string): Promise<Credentials | null> {
    const rows = await on
      .select({ id: users.id, passwordHash: users.passwordHash })
      .from(users)
      .where(and(eq(users.id, id), isNull(users.deletedAt)))
      .limit(1);
    const row = rows[0];
    return row?.passwordHash ? { userId: row.id, passwordHash: row.passwordHash } : null;
  },

  async findById(on: DbOrTx, id: string, opts: { forUpdate?: boolean } = {}): Promise<UserRecord | null> {
    const q = on
      .select()
      .from(users)
      .where(and(eq(users.id, id), isNull(users.deletedAt)))
      .limit(1);
    const rows = opts.forUpdate ? await q.for('update') : await q;
    return rows[0] ? toUser(rows[0]) : null;
  },

  async findByIds(on: DbOrTx, ids: string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    const rows = await on
      .select()
      .from(users)
      .where(and(inArray(users.id, ids), isNull(users.deletedAt)));
    return rows.map(toUser);
  },

  async update(
    on: DbOrTx,
    id: string,
    patch: { name?: string; avatarUrl?: string | null; statusText?: string | null },
    now: Date,
  ): Promise<UserRecord | null> {
    const rows = await on
      .update(users)
      .set({ ...patch, updatedAt: now })
      .where(and(eq(users.id, id), isNull(users.deletedAt)))
      .returning();
    return rows[0] ? toUser(rows[0]) : null;
  },

  /** Turns the account into a tombstone: keeps id and createdAt, erases every personal field. */
  async erase(on: DbOrTx, id: string, now: Date): Promise<boolean> {
    const rows = await on
      .update(users)
      .set({
        email: null,
        name: null,
        avatarUrl: null,
        statusText: null,
        passwordHash: null,
        updatedAt: now,
        deletedAt: now,
      })
      .where(and(eq(users.id, id), isNull(users.deletedAt)))
      .returning({ id: users.id });
    return rows.length > 0;
  },

  /**
   * Prefix search on the name (its start or the start of any word in it) or
   * the e-mail, ordered by lower-cased name then id (keyset pagination).
   */
  async search(on: DbOrTx, s: UserSearch): Promise<UserRecord[]> {
    const conditions: SQL[] = [isNull(users.deletedAt)];
    if (s.query) {
      const p = escapeLike(s.query);
      conditions.push(
        or(
          like(sql`lower(${users.name})`, `${p}%`),
          like(sql`lower(${users.name})`, `% ${p}%`),
          like(sql`lower(${users.email})`, `${p}%`),
        )!,
      );
    }
    if (s.after) {
      conditions.push(sql`(lower(${users.name}), ${users.id}) > (${s.after.name}, ${s.after.id}::uuid)`);
    }
    const rows = await on
      .select()
      .from(users)
      .where(and(...conditions))
      .orderBy(asc(sql`lower(${users.name})`), asc(users.id))
      .limit(s.limit);
    return rows.map(toUser);
  },
};
export type UserRepository = typeof userRepository;
