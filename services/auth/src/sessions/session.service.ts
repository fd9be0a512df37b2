/**
 * Sessions: opened by register and login, renewed by refresh (single-use
 * refresh tokens rotated on every call), ended by logout, by reuse of a
 * spent refresh token (the whole session ends, so a thief and the victim are
 * both logged out) and by account deletion. Ending a session commits its
 * `session.revoked` event with the change (outbox), then writes the
 * revocation key that every service checks.
 */
import type { EventData, EventType } from '@parley/contracts';
import type { DbOrTx, Tx } from '@parley/service-kit';
import { newId, unavailable } from '@parley/service-kit';
import type { Logger } from 'pino';
import { RefreshTokenInvalidError, RefreshTokenReusedError } from '../errors';
import type { SigningKeyRing } from '../keys/signing-key.service';
import type { RevocationWriter } from './session-revocation';
import { type SessionRepository, type SessionRevokedReason, sessionRepository } from './session.repository';
import { ACCESS_TOKEN_SECONDS, hashRefreshToken, newRefreshToken, signAccessToken } from './tokens';

export type Emit = <T extends EventType>(type: T, data: EventData<T>) => Promise<unknown>;
/** The part of the kit's outbox this service uses. */
export interface OutboxPort {
  transaction<R>(fn: (tx: Tx, emit: Emit) => Promise<R>): Promise<R>;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface SessionServiceDeps {
  outbox: OutboxPort;
  keys: SigningKeyRing;
  revocations: RevocationWriter;
  logger: Logger;
  issuer: string;
  audience: string;
  refreshTokenDays: number;
  repository?: SessionRepository;
  now?: () => Date;
}

export function createSessionService(deps: SessionServiceDeps) {
  const repo = deps.repository ?? sessionRepository;
  const now = deps.now ?? (() => new Date());
  const refreshLifetimeMs = deps.refreshTokenDays * 24 * 3600 * 1000;

  async function accessToken(userId: string, sessionId: string, at: Date): Promise<string> {
    const key = await deps.keys.signingKey();
    return signAccessToken(key, { userId, sessionId }, { issuer: deps.issuer, audience: deps.audience, now: at });
  }

  /**
   * After commit: make every service refuse the sessions' access tokens.
   * False when the key-value store could not be written (the session is
   * ended in the database either way; the caller decides what to answer).
   */
  async function writeRevocations(sessionIds: string[], at: Date): Promise<boolean> {
    if (sessionIds.length === 0) return true;
    try {
      await deps.revocations.revokeSessions(sessionIds, at);
      return true;
    } catch (err) {
      deps.logger.error({ err, sessions: sessionIds.length }, 'could not write session revocation keys');
      return false;
    }
  }

  async function emitRevoked(emit: Emit, sessionId: string, userId: string, reason: SessionRevokedReason, at: Date) {
    await emit('session.revoked', { sessionId, userId, reason, revokedAt: at.toISOString() });
  }

  return {
    /**
     * Opens a session for `userId` inside the caller's transaction; the
     * tokens are signed only after it (the caller returns them after commit).
     */
    async open(on: DbOrTx, userId: string): Promise<{ sessionId: string; refreshToken: string; at: Date }> {
      const at = now();
      const sessionId = newId();
      const refreshToken = newRefreshToken();
      await repo.createSession(on, {
        id: sessionId,
        userId,
        now: at,
        refreshTokenHash: hashRefreshToken(refreshToken),
        refreshExpiresAt: new Date(at.getTime() + refreshLifetimeMs),
      });
      return { sessionId, refreshToken, at };
    },

    async tokensFor(opened: { sessionId: string; refreshToken: string; at: Date }, userId: string) {
      return {
        accessToken: await accessToken(userId, opened.sessionId, opened.at),
        refreshToken: opened.refreshToken,
        expiresIn: ACCESS_TOKEN_SECONDS,
      } satisfies IssuedTokens;
    },

    /** Exchanges a refresh token for new tokens; a spent one ends its session. */
    async refresh(refreshToken: string): Promise<IssuedTokens> {
      const at = now();
      const presented = hashRefreshToken(refreshToken);
      const outcome = await deps.outbox.transaction(async (tx, emit) => {
        const state = await repo.lockRefreshToken(tx, presented);
        if (!state || state.sessionRevokedAt || state.userDeleted) return { kind: 'invalid' as const };
        if (state.spentAt) {
          const ended = await repo.revokeSession(tx, state.sessionId, 'refresh_reuse', at);
          if (ended) await emitRevoked(emit, state.sessionId, state.userId, 'refresh_reuse', at);
          return { kind: 'reused' as const, sessionId: state.sessionId };
        }
        if (state.expiresAt.getTime() <= at.getTime()) return { kind: 'invalid' as const };
        const next = newRefreshToken();
        await repo.rotateRefreshToken(tx, {
          spentHash: presented,
          sessionId: state.sessionId,
          nextHash: hashRefreshToken(next),
          now: at,
          expiresAt: new Date(at.getTime() + refreshLifetimeMs),
        });
        return { kind: 'rotated' as const, sessionId: state.sessionId, userId: state.userId, next };
      });
      if (outcome.kind === 'invalid') throw new RefreshTokenInvalidError();
      if (outcome.kind === 'reused') {
        deps.logger.warn({ sessionId: outcome.sessionId }, 'spent refresh token presented again: session ended');
        await writeRevocations([outcome.sessionId], at);
        throw new RefreshTokenReusedError();
      }
      return {
        accessToken: await accessToken(outcome.userId, outcome.sessionId, at),
        refreshToken: outcome.next,
        expiresIn: ACCESS_TOKEN_SECONDS,
      };
    },

    /**
     * Ends the session that `refreshToken` belongs to, which must be one of
     * `userId`'s. Idempotent: ending an ended session succeeds again (and
     * rewrites its revocation key, so a retry after a failed write repairs it).
     */
    async logout(userId: string, refreshToken: string): Promise<void> {
      const at = now();
      const outcome = await deps.outbox.transaction(async (tx, emit) => {
        const state = await repo.lockRefreshToken(tx, hashRefreshToken(refreshToken));
        if (!state || state.userId !== userId) return null;
        const ended = await repo.revokeSession(tx, state.sessionId, 'logout', at);
        if (ended) await emitRevoked(emit, state.sessionId, userId, 'logout', at);
        return { sessionId: state.sessionId, revokedAt: state.sessionRevokedAt ?? at };
      });
      if (!outcome) throw new RefreshTokenInvalidError();
      // The session is over in the database; without its revocation key its
      // access tokens would live on, so ask the client to retry (idempotent).
      if (!(await writeRevocations([outcome.sessionId], outcome.revokedAt))) {
        throw unavailable('the session ended but could not be revoked everywhere yet; retry the logout');
      }
    },

    /** Ends every session of a user inside the caller's transaction (account deletion). */
    async endAll(tx: Tx, emit: Emit, userId: string, reason: SessionRevokedReason, at: Date): Promise<string[]> {
      const ids = await repo.revokeAllSessions(tx, userId, reason, at);
      for (const sid of ids) await emitRevoked(emit, sid, userId, reason, at);
      return ids;
    },

    writeRevocations,
  };
}
export type SessionService = ReturnType<typeof createSessionService>;
