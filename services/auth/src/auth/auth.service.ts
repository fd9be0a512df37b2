/**
 * Registration and login: both open a session and answer the same
 * `{ user, accessToken, refreshToken, expiresIn }`.
 */
import type { AuthResult } from '@parley/contracts';
import {
  type DatabaseHandle,
  invalidCredentials,
  newId,
  rateLimited,
  unavailable,
  validationFailed,
} from '@parley/service-kit';
import type { Logger } from 'pino';
import { EmailTakenError } from '../errors';
import type { PasswordHasher } from '../passwords/password-hasher';
import type { OutboxPort, SessionService } from '../sessions/session.service';
import { isUniqueViolation, type UserRepository, userRepository } from '../users/user.repository';
import { normalizeEmail, normalizeName, type RegistrationInput, registrationProblems } from '../users/user.rules';
import { toPublicUser, toUser } from '../users/user.service';
import { type LoginThrottle, ThrottleUnavailableError, type ThrottleVerdict } from './login-throttle';

export interface AuthServiceDeps {
  db: DatabaseHandle;
  outbox: OutboxPort;
  sessions: SessionService;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  logger: Logger;
  repository?: UserRepository;
  now?: () => Date;
}

export function createAuthService(deps: AuthServiceDeps) {
  const repo = deps.repository ?? userRepository;
  const now = deps.now ?? (() => new Date());
  const db = deps.db.db;

  return {
    async register(input: RegistrationInput): Promise<AuthResult> {
      const problems = registrationProblems(input);
      if (problems.length > 0) throw validationFailed(problems);
      const email = normalizeEmail(input.email);
      if (await repo.emailTaken(db, email)) throw new EmailTakenError();
      const passwordHash = await deps.hasher.hash(input.password);
      try {
        const { user, opened } = await deps.outbox.transaction(async (tx, emit) => {
          const user = await repo.insert(tx, {
            id: newId(),
            email,
            name: normalizeName(input.name),
            passwordHash,
            now: now(),
          });
          await emit('user.created', { user: toPublicUser(user) });
          const opened = await deps.sessions.open(tx, user.id);
          return { user, opened };
        });
        return { user: toUser(user), ...(await deps.sessions.tokensFor(opened, user.id)) };
      } catch (err) {
        // Two registrations of one address at once: the unique index decides.
        if (isUniqueViolation(err)) throw new EmailTakenError();
        throw err;
      }
    },

    /**
     * Counts one login attempt from `clientIp` for `email` (every attempt
     * counts, before the password is checked). Fails closed: 503 when the
     * store cannot count. The caller answers 429 when it is not allowed.
     */
    async countAttempt(email: string, clientIp: string): Promise<ThrottleVerdict> {
      try {
        return await deps.throttle.attempt(clientIp, normalizeEmail(email));
      } catch (err) {
        if (err instanceof ThrottleUnavailableError) {
          deps.logger.error({ err: err.cause }, 'login throttle unavailable: refusing logins');
          throw unavailable('login is temporarily unavailable');
        }
        throw err;
      }
    },

    /**
     * Checks the password; an unknown e-mail costs the same hashing work as
     * a wrong password and gets the same answer.
     */
    async login(input: { email: string; password: string }): Promise<AuthResult> {
      const email = normalizeEmail(input.email);
      const creds = await repo.findCredentialsByEmail(db, email);
      const ok = await deps.hasher.verifyOrDummy(creds?.passwordHash ?? null, input.password);
      if (!creds || !ok) throw invalidCredentials();
      await deps.throttle.succeeded(email);
      const { user, opened } = await db.transaction(async (tx) => {
        const user = await repo.findById(tx, creds.userId);
        if (!user) return { user: null, opened: null };
        return { user, opened: await deps.sessions.open(tx, user.id) };
      });
      if (!user || !opened) throw invalidCredentials();
      return { user: toUser(user), ...(await deps.sessions.tokensFor(opened, user.id)) };
    },

    rateLimitedError(verdict: ThrottleVerdict) {
      return rateLimited(verdict.resetSeconds, 'too many login attempts; try again later');
    },
  };
}
export type AuthService = ReturnType<typeof createAuthService>;
