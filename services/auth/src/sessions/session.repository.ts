/**
 * Sessions and their refresh-token chains. The only file of `sessions/` that
 * speaks drizzle. Every function takes the handle to run on, so the service
 * can group writes with their outbox events in one transaction.
 */
import type { DbOrTx } from '@parley/service-kit';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { refreshTokens, sessions, users } from '../db/schema';

export type SessionRevokedReason = 'logout' | 'refresh_reuse' | 'account_deleted';

export interface RefreshTokenState {
  sessionId: string;
  userId: string;
  expiresAt: Date;
  spentAt: Date | null;
  sessionRevokedAt: Date | null;
  userDeleted: boolean;
}

export const sessionRepository = {
  async createSession(
    on: DbOrTx,
    s: { id: string; userId: string; now: Date; refreshTokenHash: string; refreshExpiresAt: Date },
  ): Promise<void> {
    await on.insert(sessions).values({ id: s.id, userId: s.userId, createdAt: s.now, refreshedAt: s.now });
    await on.insert(refreshTokens).values({
      tokenHash: s.refreshTokenHash,
      sessionId: s.id,
      createdAt: s.now,
      expiresAt: s.refreshExpiresAt,
    });
  },

  /** The token's row with its session, locked until the transaction ends (concurrent refreshes serialize). */
  async lockRefreshToken(on: DbOrTx, tokenHash: string): Promise<RefreshTokenState | null> {
    const rows = await on
      .select({
        sessionId: refreshTokens.sessionId,
        expiresAt: refreshTokens.expiresAt,
        spentAt: refreshTokens.spentAt,
        userId: sessions.userId,
        sessionRevokedAt: sessions.revokedAt,
        userDeletedAt: users.deletedAt,
      })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(refreshTokens.tokenHash, tokenHash))
      // Locks the token, session and user rows (drizzle writes `OF "schema"."table"`, which Postgres refuses).
      .for('update')
      .limit(1);
    const row = rows[0];
    if (!row) return null;
    return {
      sessionId: row.sessionId,
      userId: row.userId,
      expiresAt: row.expiresAt,
      spentAt: row.spentAt,
      sessionRevokedAt: row.sessionRevokedAt,
      userDeleted: row.userDeletedAt !== null,
    };
  },

  /** Spends `spentHash` and appends the next token of the chain. */
  async rotateRefreshToken(
    on: DbOrTx,
    r: { spentHash: string; sessionId: string; nextHash: string; now: Date; expiresAt: Date },
  ): Promise<void> {
    await on.update(refreshTokens).set({ spentAt: r.now }).where(eq(refreshTokens.tokenHash, r.spentHash));
    await on.insert(refreshTokens).values({
      tokenHash: r.nextHash,
      sessionId: r.sessionId,
      createdAt: r.now,
      expiresAt: r.expiresAt,
    });
    await on.update(sessions).set({ refreshedAt: r.now }).where(eq(sessions.id, r.sessionId));
  },

  /** Ends one session; false when it had already ended. */
  async revokeSession(on: DbOrTx, sessionId: string, reason: SessionRevokedReason, now: Date): Promise<boolean> {
    const rows = await on
      .update(sessions)
      .set({ revokedAt: now, revokedReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    return rows.length > 0;
  },

  /** Ends every open session of a user and drops all their refresh tokens; returns the ended session ids. */
  async revokeAllSessions(on: DbOrTx, userId: string, reason: SessionRevokedReason, now: Date): Promise<string[]> {
    const rows = await on
      .update(sessions)
      .set({ revokedAt: now, revokedReason: reason })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    const ids = rows.map((r) => r.id);
    await on
      .delete(refreshTokens)
      .where(
        inArray(
          refreshTokens.sessionId,
          on.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, userId)),
        ),
      );
    return ids;
  },
};
export type SessionRepository = typeof sessionRepository;
