/**
 * `buildApp(config, infra)`: the conversation service as a Fastify instance,
 * without listening. It applies the service's migrations, starts the outbox
 * relay, the consumers (users and message read models, account deletion) and
 * the RPC answers, and stops them on close. The infra belongs to the caller.
 */
import { fileURLToPath } from 'node:url';
import {
  type Infra,
  type JWKSource,
  type JwksKeyStore,
  type ServiceApp,
  type Subscription,
  createConsumers,
  createOutbox,
  createServiceApp,
} from '@parley/service-kit';
import type { Logger } from 'pino';
import type { ConversationConfig } from './config';
import { registerActivitySubscribers } from './conversations/activity.subscribers';
import { createConversationRepository } from './conversations/conversation.repository';
import { registerConversationRoutes } from './conversations/conversation.routes';
import { serveConversationRpc } from './conversations/conversation.rpc';
import { createConversationService } from './conversations/conversation.service';
import { createReadYourWrites } from './conversations/read-your-writes';
import { outbox as outboxTable, processedEvents } from './db/schema';
import { createUserDirectory } from './users/user.service';
import { registerUserSubscribers } from './users/user.subscribers';

export const SERVICE = 'conversation';
export const SCHEMA = 'conversation';
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));

export interface BuildOptions {
  /** Logger instead of infra.logger (tests capture logs). */
  logger?: Logger;
  /** Token keys instead of the auth service's JWKS over the bus. */
  authKeys?: JWKSource | JwksKeyStore;
}

export async function buildApp(config: ConversationConfig, infra: Infra, opts: BuildOptions = {}): Promise<ServiceApp> {
  await infra.db.migrate({ schema: SCHEMA, migrationsFolder: MIGRATIONS_FOLDER });

  const app = await createServiceApp({
    name: SERVICE,
    config,
    infra,
    logger: opts.logger,
    auth: opts.authKeys ? { keys: opts.authKeys } : undefined,
  });

  const db = infra.db.db;
  const repo = createConversationRepository();
  const outbox = createOutbox({ infra, schema: SCHEMA, producer: SERVICE, table: outboxTable, metrics: app.metrics });
  const consumers = createConsumers({
    infra,
    schema: SCHEMA,
    table: processedEvents,
    service: SERVICE,
    metrics: app.metrics,
    afterCommit: () => outbox.kick(),
  });
  const users = createUserDirectory({ db, repo, bus: infra.bus, rpcTimeoutMs: config.RPC_TIMEOUT_MS, logger: app.log });
  const readYourWrites = createReadYourWrites({
    kv: infra.kv,
    maxWaitMs: config.READ_YOUR_WRITES_WAIT_MS,
    conversationIdsOf: (userId) => repo.conversationIdsOf(db, userId, { present: true }),
    positions: (userId, ids) => repo.modelPositions(db, userId, ids),
    logger: app.log,
  });
  const service = createConversationService({ db, repo, outbox, users, readYourWrites, logger: app.log });
  registerConversationRoutes(app, service);

  let rpc: Subscription[] = [];
  const stop = async () => {
    for (const s of rpc) s.unsubscribe();
    rpc = [];
    await consumers.stop();
    await outbox.stop();
  };
  app.addHook('onClose', stop);
  try {
    await outbox.start();
    const finished = await service.finishInterruptedDeletions();
    if (finished > 0) app.log.info({ users: finished }, 'finished interrupted account deletions');
    rpc = serveConversationRpc(infra.bus, db, repo);
    await registerUserSubscribers(consumers, users, service);
    await registerActivitySubscribers(consumers, repo);
  } catch (err) {
    await app.close();
    throw err;
  }
  return app;
}
