/**
 * Runs the realtime-gateway service on its own: config from the environment, real or
 * embedded infrastructure, listen, graceful close (`--migrate-only` applies
 * the migrations and exits, for init containers).
 */
import { startService } from '@parley/service-kit';
import { buildApp } from './app';
import { GatewayConfig } from './config';

await startService({
  name: 'realtime-gateway',
  schema: GatewayConfig,
  build: (config: GatewayConfig, infra) => buildApp(config, infra),
});
