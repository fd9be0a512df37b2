/**
 * The test-only example service (not shipped): one route with a TypeBox body
 * that writes a row and emits `user.updated` through the outbox, and one
 * durable consumer that applies that event idempotently. It is the smallest
 * service shaped like the real ones (buildApp factory, migrations at start,
 * relay and consumers started with the app and stopped on close, infra owned
 * by the caller), used to check the kit end to end.
 */
import { fileURLToPath } from 'node:url';
import { filterOf, PublicUser } from '@parley/contracts';
import { Type } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { BaseServiceConfig } from '../../src/config';
import { createConsumers } from '../../src/consumers/consumers';
import { type ServiceApp, createServiceApp } from '../../src/http/app';
import type { Infra } from '../../src/infra';
import { createOutbox } from '../../src/outbox/outbox';
import { outbox as outboxTable, processedEvents, profileUpdates, profiles } from './db/schema';

const migrationsFolder = fileURLToPath(new URL('./drizzle', import.meta.url));

const ProfileParams = Type.Object({ userId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const ProfileBody = Type.Object(
  {
    name: Type.String({ minLength: 2, maxLength: 64 }),
    avatarUrl: Type.Optional(Type.Union([Type.String({ format: 'uri', maxLength: 2048 }), Type.Null()])),
    statusText: Type.Optional(Type.Union([Type.String({ maxLength: 140 }), Type.Null()])),
  },
  { additionalProperties: false },
);

export interface ExampleAppOptions {
  logger?: Logger;
  /** Outbox safety sweep period (tests set it long to prove the relay does not wait for it). */
  sweepIntervalMs?: number;
}

export async function buildExampleApp(
  config: BaseServiceConfig,
  infra: Infra,
  opts: ExampleAppOptions = {},
): Promise<ServiceApp> {
  const app = await createServiceApp({ name: 'example', config, infra, logger: opts.logger, auth: false });
  await infra.db.migrate({ schema: 'example', migrationsFolder });

  const outbox = createOutbox({
    infra,
    schema: 'example',
    producer: 'example',
    table: outboxTable,
    sweepIntervalMs: opts.sweepIntervalMs,
    metrics: app.metrics,
  });
  const consumers = createConsumers({
    infra,
    schema: 'example',
    table: processedEvents,
    service: 'example',
    metrics: app.metrics,
  });

  app.put(
    '/v1/example/profiles/:userId',
    { schema: { params: ProfileParams, body: ProfileBody, response: { 200: PublicUser } } },
    async (request) => {
      const { userId } = request.params;
      const { name, avatarUrl = null, statusText = null } = request.body;
      const user = await outbox.transaction(async (tx, emit) => {
        const [row] = await tx
          .insert(profiles)
          .values({ userId, name, avatarUrl, statusText })
          .onConflictDoUpdate({ target: profiles.userId, set: { name, avatarUrl, statusText } })
          .returning();
        const user = {
          id: row!.userId,
          name: row!.name,
          avatarUrl: row!.avatarUrl,
          statusText: row!.statusText,
          createdAt: row!.createdAt.toISOString(),
        };
        await emit('user.updated', { user });
        return user;
      });
      request.log.info({ userId }, 'profile saved');
      return user;
    },
  );

  await consumers.on(
    { stream: 'auth', durable: 'example-user-updated', filter: filterOf('user.updated') },
    async (event, tx, delivery) => {
      if (event.type !== 'user.updated') return;
      await tx
        .insert(profileUpdates)
        .values({ userId: event.data.user.id, count: 1, lastRequestId: delivery.headers.requestId ?? null })
        .onConflictDoUpdate({
          target: profileUpdates.userId,
          set: { count: sql`${profileUpdates.count} + 1`, lastRequestId: delivery.headers.requestId ?? null },
        });
      app.log.info({ eventId: event.id }, 'profile update applied');
    },
  );
  await outbox.start();

  app.addHook('onClose', async () => {
    await consumers.stop();
    await outbox.stop();
  });
  return app;
}
