/**
 * Runs the history service on its own: config from the environment, real or
 * embedded infrastructure, listen, graceful close (`--migrate-only` applies
 * the migrations and exits, for init containers).
 */
import { startService } from '@parley/service-kit';
import { buildApp } from './app';
import { HistoryConfig } from './config';

await startService({
  name: 'history',
  schema: HistoryConfig,
  build: (config: HistoryConfig, infra) => buildApp(config, infra),
});
