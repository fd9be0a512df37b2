/**
 * Runs the notification service on its own: config from the environment, real or
 * embedded infrastructure, listen, graceful close (`--migrate-only` applies
 * the migrations and exits, for init containers).
 */
import { startService } from '@parley/service-kit';
import { buildApp } from './app';
import { NotificationConfig } from './config';

await startService({
  name: 'notification',
  schema: NotificationConfig,
  build: (config: NotificationConfig, infra) => buildApp(config, infra),
});
