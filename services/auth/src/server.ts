/**
 * Runs the auth service on its own: config from the environment, real or
 * embedded infrastructure, listen, graceful close (`--migrate-only` applies
 * the migrations and exits, for init containers).
 */
import { startService } from '@parley/service-kit';
import { buildApp } from './app';
import { AuthConfig } from './config';

await startService({ name: 'auth', schema: AuthConfig, build: (config: AuthConfig, infra) => buildApp(config, infra) });
