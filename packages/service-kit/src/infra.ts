import type { Logger } from 'pino';
import type { Bus } from './bus/bus';
import type { DatabaseHandle } from './db/database';
import type { KeyValue } from './kv/key-value';

/**
 * The infrastructure handles a service is built with. `createInfra(config)`
 * makes real ones (Postgres, NATS, Redis) or embedded ones (PGlite, in-memory
 * bus and key-value) from config; tests and the standalone process pass them
 * into `buildApp`. The owner of an Infra closes it, not the apps using it.
 */
export interface Infra {
  db: DatabaseHandle;
  bus: Bus;
  kv: KeyValue;
  logger: Logger;
}
