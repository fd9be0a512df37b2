/**
 * `buildApp(config, infra)`: the message service as a Fastify instance,
 * without listening. It applies the service's migrations, starts the outbox
 * relay and the consumers (membership model, system messages, user names and
 * account deletion), and stops them on close. The infra belongs to the caller.
 */
import { fileURLToPath } from 'node:url';
import {
  createConsumers,
  createOutbox,
  createServiceApp,
  type Infra,
  type JWKSource,
  type JwksKeyStore,
  type ServiceApp,
} from '@parley/service-kit';
import type { Logger } from 'pino';
import type { MessageConfig } from './config';
import { outbox as outboxTable, processedEvents } from './db/schema';
import { createMembershipRepository } from './membership/membership.repository';
import { createMembershipService } from './membership/membership.service';
import { startMembershipSubscribers } from './membership/membership.subscribers';
import { createMessageRepository } from './messages/message.repository';
import { registerMessageRoutes } from './messages/message.routes';
import { createMessageService } from './messages/message.service';
import { createSendRateLimiter } from './rate-limit/send-rate-limiter';
import { createReceiptRepository } from './receipts/receipt.repository';
import { registerReceiptRoutes } from './receipts/receipt.routes';
import { createReceiptService } from './receipts/receipt.service';
import { createSystemMessages } from './system-messages/system-message.service';
import { createUserNames } from './users/user-names.service';
import { createUserEventHandler, startUserSubscribers } from './users/user.subscribers';

export const SERVICE = 'message';
export const SCHEMA = 'message';
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));

export interface BuildOptions {
  /** Logger instead of infra.logger (tests capture logs). */
  logger?: Logger;
  /** Token keys instead of the auth service's JWKS over the bus. */
  authKeys?: JWKSource | JwksKeyStore;
  /** Start the event consumers (default true; tests of the relay alone turn them off). */
  consumers?: boolean;
}

export async function buildApp(config: MessageConfig, infra: Infra, opts: BuildOptions = {}): Promise<ServiceApp> {
  await infra.db.migrate({ schema: SCHEMA, migrationsFolder: MIGRATIONS_FOLDER });

  const app = await createServiceApp({
    name: SERVICE,
    config,
    infra,
    logger: opts.logger,
    auth: opts.authKeys ? { keys: opts.authKeys } : undefined,
  });
  const logger = app.log as unknown as Logger;

  const db = infra.db;
  const outbox = createOutbox({ infra, schema: SCHEMA, producer: SERVICE, table: outboxTable, metrics: app.metrics });
  const consumers = createConsumers({
    infra,
    schema: SCHEMA,
    table: processedEvents,
    service: SERVICE,
    metrics: app.metrics,
    afterCommit: () => outbox.kick(),
  });

  const membershipRepo = createMembershipRepository();
  const messageRepo = createMessageRepository(db);
  const receiptRepo = createReceiptRepository(db);
  const rpcTimeoutMs = config.RPC_TIMEOUT_MS;
  const membership = createMembershipService({ db, bus: infra.bus, repo: membershipRepo, rpcTimeoutMs, logger });
  const names = createUserNames({ db, bus: infra.bus, repo: membershipRepo, rpcTimeoutMs, logger });
  const limiter = createSendRateLimiter({
    kv: infra.kv,
    perMinute: config.RATE_LIMIT_SEND_PER_MIN,
    burst: config.RATE_LIMIT_SEND_BURST,
    logger,
  });
  const messages = createMessageService({
    db,
    repo: messageRepo,
    membershipRepo,
    membership,
    names,
    outbox,
    limiter,
    kv: infra.kv,
    readYourWritesTtlMs: config.READ_YOUR_WRITES_TTL_MS,
    logger,
  });
  const receipts = createReceiptService({
    db,
    repo: receiptRepo,
    messages: messageRepo,
    messageService: messages,
    membership,
    outbox,
  });
  const systemMessages = createSystemMessages({ db, repo: messageRepo, names, outbox });
  const userEvents = createUserEventHandler({
    db,
    membershipRepo,
    messages: messageRepo,
    receipts: receiptRepo,
    outbox,
  });
  registerMessageRoutes(app, messages, { sendBurst: config.RATE_LIMIT_SEND_BURST });
  registerReceiptRoutes(app, receipts);

  app.addHook('onClose', async () => {
    await consumers.stop();
    await outbox.stop();
  });
  try {
    await outbox.start();
    if (opts.consumers !== false) {
      await startMembershipSubscribers(consumers, membershipRepo, systemMessages);
      await startUserSubscribers(consumers, userEvents);
    }
  } catch (err) {
    await app.close();
    throw err;
  }
  return app;
}
