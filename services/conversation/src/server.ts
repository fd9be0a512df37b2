/**
 * Runs the conversation service on its own: config from the environment, real or
 * embedded infrastructure, listen, graceful close (`--migrate-only` applies
 * the migrations and exits, for init containers).
 */
import { startService } from '@parley/service-kit';
import { buildApp } from './app';
import { ConversationConfig } from './config';

await startService({
  name: 'conversation',
  schema: ConversationConfig,
  build: (config: ConversationConfig, infra) => buildApp(config, infra),
});
