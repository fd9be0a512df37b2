/**
 * Runs the message service on its own: config from the environment, real or
 * embedded infrastructure, listen, graceful close (`--migrate-only` applies
 * the migrations and exits, for init containers).
 */
import { startService } from '@parley/service-kit';
import { buildApp } from './app';
import { MessageConfig } from './config';

await startService({
  name: 'message',
  schema: MessageConfig,
  build: (config: MessageConfig, infra) => buildApp(config, infra),
});
