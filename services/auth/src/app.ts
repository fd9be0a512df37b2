/**
 * The auth service: accounts, credentials, sessions, refresh tokens and the
 * access-token signing keys. `buildApp` builds it on infrastructure it does
 * not own (no listen, no closing of the infra): applies its migrations,
 * loads or creates the signing key, serves RPC.authJwks and RPC.authUsers,
 * starts its outbox relay and revocation consumers, and stops them on close.
 */
import { fileURLToPath } from 'node:url';
import { createConsumers, createOutbox, createServiceApp, type Infra, type Subscription } from '@parley/service-kit';
import type { FastifyInstance } from 'fastify';
import { createAuthService } from './auth/auth.service';
import { authRoutes } from './auth/auth.routes';
import { createClientIpResolver } from './auth/client-ip';
import { createLoginThrottle } from './auth/login-throttle';
import type { AuthConfig } from './config';
import { outbox as outboxTable, processedEvents } from './db/schema';
import { createKeyEncryption, resolveKeyEncryptionSecret } from './keys/key-encryption';
import { createSigningKeyRepository } from './keys/signing-key.repository';
import { serveJwks } from './keys/signing-key.rpc';
import { createSigningKeyRing } from './keys/signing-key.service';
import { createPasswordHasher } from './passwords/password-hasher';
import { createRevocationWriter } from './sessions/session-revocation';
import { createSessionService } from './sessions/session.service';
import { startRevocationSubscribers } from './sessions/session.subscribers';
import { ACCESS_TOKEN_SECONDS } from './sessions/tokens';
import { serveUsers } from './users/user.rpc';
import { createUserService } from './users/user.service';
import { userRoutes } from './users/user.routes';

export const SCHEMA = 'auth';
const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url));

export interface BuildOptions {
  /**
   * Start the outbox relay (default true). Tests turn it off to stand for a
   * process that died right after a commit, before publishing.
   */
  relay?: boolean;
}

export async function buildApp(config: AuthConfig, infra: Infra, options: BuildOptions = {}): Promise<FastifyInstance> {
  const log = infra.logger.child({ service: 'auth' });
  const resolved = resolveKeyEncryptionSecret(config.AUTH_KEY_ENCRYPTION_SECRET, config.DATA_DIR);
  if (resolved.generated) {
    log.warn(
      { file: resolved.file },
      'AUTH_KEY_ENCRYPTION_SECRET is not set: using a generated secret kept beside the data; set it in production (every replica needs the same one)',
    );
  }

  await infra.db.migrate({ schema: SCHEMA, migrationsFolder: MIGRATIONS });

  const keys = createSigningKeyRing({
    repository: createSigningKeyRepository(infra.db),
    encryption: createKeyEncryption(resolved.secret),
    rotationDays: config.AUTH_KEY_ROTATION_DAYS,
    tokenLifetimeSeconds: ACCESS_TOKEN_SECONDS,
  });
  await keys.start();

  // This service verifies tokens with its own keys, without a bus round trip.
  const app = await createServiceApp({ name: 'auth', config, infra, auth: { keys: () => keys.jwks() } });

  const outbox = createOutbox({ infra, schema: SCHEMA, producer: 'auth', table: outboxTable, metrics: app.metrics });
  const consumers = createConsumers({
    infra,
    schema: SCHEMA,
    table: processedEvents,
    service: 'auth',
    metrics: app.metrics,
    afterCommit: () => outbox.kick(),
  });
  const hasher = createPasswordHasher();
  const revocations = createRevocationWriter(infra.kv);
  const sessions = createSessionService({
    outbox,
    keys,
    revocations,
    logger: log,
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    refreshTokenDays: config.AUTH_REFRESH_TOKEN_DAYS,
  });
  const users = createUserService({ db: infra.db, outbox, sessions, revocations, hasher, logger: log });
  const auth = createAuthService({
    db: infra.db,
    outbox,
    sessions,
    hasher,
    throttle: createLoginThrottle(infra.kv, config.RATE_LIMIT_LOGIN_PER_MIN),
    logger: log,
  });
  await app.register(authRoutes, { auth, clientIp: createClientIpResolver(config.TRUST_PROXY), sessions, keys });
  await app.register(userRoutes, { users });

  const served: Subscription[] = [serveJwks(infra.bus, keys), serveUsers(infra.bus, users)];
  app.addHook('onClose', async () => {
    for (const s of served) s.unsubscribe();
    await consumers.stop();
    await outbox.stop();
  });
  if (options.relay !== false) {
    await outbox.start();
    await startRevocationSubscribers(consumers, revocations);
  }
  return app;
}
