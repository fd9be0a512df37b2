/**
 * The history service: edit history, deletion audit and full-text message
 * search. `buildApp` builds it on infrastructure it does not own (no
 * listen, no closing of the infra): applies its migrations, starts its
 * consumers, and stops them on close.
 */
import { fileURLToPath } from 'node:url';
import { createConsumers, createServiceApp, type Infra } from '@parley/service-kit';
import type { FastifyInstance } from 'fastify';
import type { HistoryConfig } from './config';
import { processedEvents } from './db/schema';
import { HistoryRepository } from './history/history.repository';
import { historyRoutes } from './history/history.routes';
import { HistoryService } from './history/history.service';
import { startHistorySubscribers } from './history/history.subscribers';
import { MembershipRepository } from './membership/membership.repository';
import { MembershipService } from './membership/membership.service';
import { createReadYourWrites } from './membership/read-your-writes';
import { SearchRepository } from './search/search.repository';
import { SearchService } from './search/search.service';

export const SCHEMA = 'history';
const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url));

export interface BuildOptions {
  /** Start the consumers (default true). */
  consumers?: boolean;
}

export async function buildApp(
  config: HistoryConfig,
  infra: Infra,
  options: BuildOptions = {},
): Promise<FastifyInstance> {
  await infra.db.migrate({ schema: SCHEMA, migrationsFolder: MIGRATIONS });

  const app = await createServiceApp({ name: 'history', config, infra });
  const log = infra.logger.child({ service: 'history' });
  const consumers = createConsumers({
    infra,
    schema: SCHEMA,
    table: processedEvents,
    service: 'history',
    metrics: app.metrics,
  });

  const historyRepo = new HistoryRepository(infra.db.db);
  const membership = new MembershipService(new MembershipRepository(infra.db.db), infra.bus, {
    rpcTimeoutMs: config.RPC_TIMEOUT_MS,
    logger: log,
  });
  const readYourWrites = createReadYourWrites({
    kv: infra.kv,
    maxWaitMs: config.READ_YOUR_WRITES_WAIT_MS,
    appliedRevs: (ids) => historyRepo.appliedRevs(ids),
    logger: log,
  });
  const history = new HistoryService(historyRepo, membership, readYourWrites);
  const search = new SearchService(new SearchRepository(infra.db), membership, readYourWrites);

  await app.register(historyRoutes, { history, search });

  app.addHook('onClose', async () => {
    await consumers.stop();
  });
  if (options.consumers !== false) await startHistorySubscribers({ consumers, history, membership });
  return app;
}
