/**
 * Runs the gateway: config from the environment, infrastructure (NATS and
 * Redis when their URLs are set), the app, listen, graceful shutdown.
 */
import { closeInfra, createInfra, loadConfig, runService } from '@parley/service-kit';
import { buildApp } from './app';
import { GatewayConfig } from './config';

const config = loadConfig(GatewayConfig);
const infra = await createInfra({
  service: 'realtime-gateway',
  databaseUrl: config.DATABASE_URL,
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
