/** Runs the auth service on its own: config from the environment, real or embedded infra, listen. */
import { join } from 'node:path';
import { closeInfra, createInfra, loadConfig, runService } from '@parley/service-kit';
import { buildApp } from './app';
import { AuthConfig } from './config';

const config = loadConfig(AuthConfig);
const infra = await createInfra({
  service: 'auth',
  databaseUrl: config.DATABASE_URL,
  // Embedded mode on its own: a PGlite directory of this service only.
  dataDir: config.DATABASE_URL ? undefined : join(config.DATA_DIR, 'auth'),
  natsUrl: config.NATS_URL,
  redisUrl: config.REDIS_URL,
  busPrefix: config.BUS_PREFIX,
  kvPrefix: config.KV_PREFIX,
});
await runService(() => buildApp(config, infra), {
  port: config.PORT,
  host: config.HOST,
  onClose: () => closeInfra(infra),
});
