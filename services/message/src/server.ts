/** Runs the message service: config from the environment, real or embedded infra, listen, graceful close. */
import { join } from 'node:path';
import { closeInfra, createInfra, loadConfig, runService } from '@parley/service-kit';
import { buildApp, SERVICE } from './app';
import { MessageConfig } from './config';

const config = loadConfig(MessageConfig);
const infra = await createInfra({
  service: SERVICE,
  databaseUrl: config.DATABASE_URL,
  natsUrl: config.NATS_URL,
  redisUrl: config.REDIS_URL,
  busPrefix: config.BUS_PREFIX,
  kvPrefix: config.KV_PREFIX,
  // Embedded mode on its own: a PGlite directory of this service only.
  dataDir: config.DATABASE_URL ? undefined : join(config.DATA_DIR, SERVICE),
});

await runService(() => buildApp(config, infra), {
  port: config.PORT,
  host: config.HOST,
  onClose: () => closeInfra(infra),
});
