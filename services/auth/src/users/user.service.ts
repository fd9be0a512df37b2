/**
 * Accounts: profile reads and changes, search, lookups for other services,
 * and account deletion. Knows nothing of HTTP or SQL.
 *
 * Deletion keeps a tombstone (id, createdAt, deletedAt) with every personal
 * field erased, rather than removing the row: the sessions that referred to
 * the account keep a valid owner, a repeated or late deletion request finds
 * "already deleted" instead of "never existed", and nothing personal remains.
 */
import type { ErrorDetail, PageOf, PublicUser, User } from '@parley/contracts';
import { type DatabaseHandle, invalidCredentials, notFound, validationFailed } from '@parley/service-kit';
import type { Logger } from 'pino';
import { AccountGoneError } from '../errors';
import type { PasswordHasher } from '../passwords/password-hasher';
import type { RevocationWriter } from '../sessions/session-revocation';
import type { OutboxPort, SessionService } from '../sessions/session.service';
import { nameProblem, normalizeName } from './user.rules';
import { type UserRecord, type UserRepository, userRepository } from './user.repository';

export const STATUS_TEXT_MAX = 140;
export const AVATAR_URL_MAX = 2048;

export function toUser(u: UserRecord): User {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    avatarUrl: u.avatarUrl,
    statusText: u.statusText,
    createdAt: u.createdAt.toISOString(),
  };
}

export function toPublicUser(u: UserRecord): PublicUser {
  return {
    id: u.id,
    name: u.name,
    avatarUrl: u.avatarUrl,
    statusText: u.statusText,
    createdAt: u.createdAt.toISOString(),
  };
}

/** What a caller may see of a user: e-mail only of themselves. */
export function visibleTo(viewerId: string, u: UserRecord): PublicUser | User {
  return u.id === viewerId ? toUser(u) : toPublicUser(u);
}

export interface ProfilePatch {
  name?: string;
  avatarUrl?: string | null;
  statusText?: string | null;
}

function avatarProblem(url: string): ErrorDetail | null {
  try {
    const u = new URL(url);
    if ((u.protocol === 'https:' || u.protocol === 'http:') && url.length <= AVATAR_URL_MAX) return null;
  } catch {
    // fall through to the detail below
  }
  return { field: 'avatarUrl', code: 'invalid_format', message: 'must be an http(s) URL or null' };
}

/** Every field problem of a profile change (empty when acceptable). */
export function profileProblems(patch: ProfilePatch): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  if (patch.name !== undefined) {
    const p = nameProblem(patch.name);
    if (p) problems.push(p);
  }
  if (typeof patch.avatarUrl === 'string') {
    const p = avatarProblem(patch.avatarUrl);
    if (p) problems.push(p);
  }
  if (typeof patch.statusText === 'string' && [...patch.statusText].length > STATUS_TEXT_MAX) {
    problems.push({
      field: 'statusText',
      code: 'invalid_length',
      message: `must be at most ${STATUS_TEXT_MAX} characters`,
    });
  }
  return problems;
}

/** Opaque keyset cursor of the user list: the last item's lower-cased name and id. */
export function encodeUserCursor(u: { name: string; id: string }): string {
  return Buffer.from(JSON.stringify([u.name.toLowerCase(), u.id]), 'utf8').toString('base64url');
}
export function decodeUserCursor(cursor: string): { name: string; id: string } | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      /^[0-9a-f-]{36}$/i.test(v[1])
    ) {
      return { name: v[0], id: v[1] };
    }
  } catch {
    // not base64url JSON: reported below
  }
  return null;
}

export interface UserServiceDeps {
  db: DatabaseHandle;
  outbox: OutboxPort;
  sessions: SessionService;
  revocations: RevocationWriter;
  hasher: PasswordHasher;
  logger: Logger;
  repository?: UserRepository;
  now?: () => Date;
}

export function createUserService(deps: UserServiceDeps) {
  const repo = deps.repository ?? userRepository;
  const now = deps.now ?? (() => new Date());
  const db = deps.db.db;

  return {
    async me(userId: string): Promise<User> {
      const u = await repo.findById(db, userId);
      if (!u) throw new AccountGoneError();
      return toUser(u);
    },

    async get(viewerId: string, id: string): Promise<PublicUser | User> {
      const u = await repo.findById(db, id);
      if (!u) throw notFound('user not found');
      return visibleTo(viewerId, u);
    },

    async updateMe(userId: string, patch: ProfilePatch): Promise<User> {
      const problems = profileProblems(patch);
      if (problems.length > 0) throw validationFailed(problems);
      const changes: ProfilePatch = {};
      if (patch.name !== undefined) changes.name = normalizeName(patch.name);
      if (patch.avatarUrl !== undefined) changes.avatarUrl = patch.avatarUrl;
      if (patch.statusText !== undefined) {
        const text = patch.statusText?.trim() ?? null;
        changes.statusText = text === '' ? null : text;
      }
      return deps.outbox.transaction(async (tx, emit) => {
        const current = await repo.findById(tx, userId, { forUpdate: true });
        if (!current) throw new AccountGoneError();
        const changed =
          (changes.name !== undefined && changes.name !== current.name) ||
          (changes.avatarUrl !== undefined && changes.avatarUrl !== current.avatarUrl) ||
          (changes.statusText !== undefined && changes.statusText !== current.statusText);
        if (!changed) return toUser(current);
        const updated = await repo.update(tx, userId, changes, now());
        if (!updated) throw new AccountGoneError();
        await emit('user.updated', { user: toPublicUser(updated) });
        return toUser(updated);
      });
    },

    async search(
      viewerId: string,
      q: { query?: string; limit: number; cursor?: string },
    ): Promise<PageOf<PublicUser | User>> {
      let after: { name: string; id: string } | undefined;
      if (q.cursor !== undefined) {
        const decoded = decodeUserCursor(q.cursor);
        if (!decoded) throw validationFailed([{ field: 'cursor', code: 'invalid_format', message: 'unknown cursor' }]);
        after = decoded;
      }
      const query = (q.query ?? '').normalize('NFC').trim().toLowerCase();
      const rows = await repo.search(db, { query, limit: q.limit + 1, after });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return {
        items: page.map((u) => visibleTo(viewerId, u)),
        nextCursor: rows.length > q.limit && last ? encodeUserCursor(last) : null,
      };
    },

    /** For other services (RPC.authUsers): unknown and deleted ids are left out. */
    async publicUsers(ids: string[]): Promise<PublicUser[]> {
      const unique = [...new Set(ids)];
      return (await repo.findByIds(db, unique)).map(toPublicUser);
    },

    /**
     * Deletes the caller's account after checking the password: erases the
     * personal data, ends every session, and commits `user.deleted` (and one
     * `session.revoked` per open session) with it, so the event is published
     * even if this process dies right after the commit. Then writes the
     * revocation keys that stop the user's tokens everywhere.
     */
    async deleteMe(userId: string, password: string): Promise<void> {
      const creds = await repo.findCredentialsById(db, userId);
      const ok = await deps.hasher.verifyOrDummy(creds?.passwordHash ?? null, password);
      if (!creds) throw new AccountGoneError();
      if (!ok) throw invalidCredentials();
      const at = now();
      const sessionIds = await deps.outbox.transaction(async (tx, emit) => {
        const erased = await repo.erase(tx, userId, at);
        if (!erased) throw new AccountGoneError();
        const ended = await deps.sessions.endAll(tx, emit, userId, 'account_deleted', at);
        await emit('user.deleted', { userId, deletedAt: at.toISOString() });
        return ended;
      });
      try {
        await deps.revocations.revokeUser(userId, at);
      } catch (err) {
        // The account is gone and its sessions ended; the auth service's own
        // consumer of user.deleted writes the key again when the store is back.
        deps.logger.error({ err }, 'could not write the user revocation key');
      }
      await deps.sessions.writeRevocations(sessionIds, at);
    },
  };
}
export type UserService = ReturnType<typeof createUserService>;
