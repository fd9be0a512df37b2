/** Runs the history service on its own: config from the environment, real or embedded infra. */
import { closeInfra, createInfra, loadConfig, runService } from '@parley/service-kit';
import { buildApp } from './app';
import { HistoryConfig } from './config';

const config = loadConfig(HistoryConfig);
const infra = await createInfra({
  service: 'history',
  databaseUrl: config.DATABASE_URL,
  natsUrl: config.NATS_URL,
  redisUrl: config.REDIS_URL,
  busPrefix: config.BUS_PREFIX,
  kvPrefix: config.KV_PREFIX,
  dataDir: config.DATABASE_URL ? undefined : `${config.DATA_DIR}/history`,
});

await runService(() => buildApp(config, infra), {
  port: config.PORT,
  host: config.HOST,
  onClose: () => closeInfra(infra),
});
