/**
 * The notification service: notifications of new and edited messages,
 * following each member's preference, kept in sync with read receipts.
 * `buildApp` builds it on infrastructure it does not own (no listen, no
 * closing of the infra): applies its migrations, starts its outbox relay and
 * its consumers, and stops them on close.
 */
import { fileURLToPath } from 'node:url';
import { createConsumers, createOutbox, createServiceApp, type Infra } from '@parley/service-kit';
import type { FastifyInstance } from 'fastify';
import type { NotificationConfig } from './config';
import { outbox as outboxTable, processedEvents } from './db/schema';
import { NotificationRepository } from './notifications/notification.repository';
import { notificationRoutes } from './notifications/notification.routes';
import { NotificationService } from './notifications/notification.service';
import { startNotificationSubscribers } from './notifications/notification.subscribers';
import { createReadYourWrites } from './notifications/read-your-writes';
import { ReadModelRepository } from './read-model/read-model.repository';
import { ReadModelService } from './read-model/read-model.service';

export const SCHEMA = 'notification';
const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url));

/**
 * Consumers write notifications and their outbox rows in the kit's consumer
 * transaction, whose COMMIT happens after the handler returns; the relay is
 * woken shortly after, and its sweep (every OUTBOX_SWEEP_MS) catches a
 * wake-up that came before the COMMIT.
 */
const OUTBOX_SWEEP_MS = 250;

export interface BuildOptions {
  /** Start the consumers (default true). Tests turn them off to drive the service by hand. */
  consumers?: boolean;
}

export async function buildApp(
  config: NotificationConfig,
  infra: Infra,
  options: BuildOptions = {},
): Promise<FastifyInstance> {
  await infra.db.migrate({ schema: SCHEMA, migrationsFolder: MIGRATIONS });

  const app = await createServiceApp({ name: 'notification', config, infra });
  const log = infra.logger.child({ service: 'notification', component: 'read-model' });

  const outbox = createOutbox({
    infra,
    schema: SCHEMA,
    producer: 'notification',
    table: outboxTable,
    metrics: app.metrics,
    sweepIntervalMs: OUTBOX_SWEEP_MS,
  });
  const consumers = createConsumers({
    infra,
    schema: SCHEMA,
    table: processedEvents,
    service: 'notification',
    metrics: app.metrics,
    afterCommit: () => outbox.kick(),
  });

  const readModelRepo = new ReadModelRepository();
  const readModel = new ReadModelService(readModelRepo, infra.bus, {
    rpcTimeoutMs: config.RPC_TIMEOUT_MS,
    logger: log,
  });
  const readYourWrites = createReadYourWrites({
    kv: infra.kv,
    maxWaitMs: config.READ_YOUR_WRITES_WAIT_MS,
    conversationsOf: (userId, limit) => readModelRepo.conversationsOf(infra.db.db, userId, limit),
    readMarks: (userId, ids) => readModelRepo.readMarks(infra.db.db, userId, ids),
    logger: log,
  });
  const notifications = new NotificationService(
    new NotificationRepository(infra.db.db),
    readModelRepo,
    readModel,
    outbox,
    readYourWrites,
    { editNotifyIntervalMs: config.EDIT_NOTIFY_INTERVAL_MS, bodyPreviewChars: config.BODY_PREVIEW_CHARS },
  );

  await app.register(notificationRoutes, { notifications });

  app.addHook('onClose', async () => {
    await consumers.stop();
    await outbox.stop();
  });

  await outbox.start();
  if (options.consumers !== false) {
    await startNotificationSubscribers({ consumers, notifications, readModel });
  }
  return app;
}
