/**
 * Parley in one process: every service and the gateway, sharing one set of
 * infrastructure handles. With DATABASE_URL / NATS_URL / REDIS_URL unset the
 * infrastructure is embedded (PGlite persisted under DATA_DIR, in-memory bus
 * and key-value); with them set, the same code uses the real servers.
 *
 * Services listen on loopback ports of their own and the gateway proxies to
 * them exactly as in cluster mode, so the one process behaves like the
 * cluster, not like a special case of it.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildApp as buildAuth } from '@parley/auth';
import { AuthConfig } from '@parley/auth/config';
import { buildApp as buildConversation } from '@parley/conversation';
import { ConversationConfig } from '@parley/conversation/config';
import { buildApp as buildHistory } from '@parley/history';
import { HistoryConfig } from '@parley/history/config';
import { buildApp as buildMessage } from '@parley/message';
import { MessageConfig } from '@parley/message/config';
import { buildApp as buildNotification } from '@parley/notification';
import { NotificationConfig } from '@parley/notification/config';
import { buildApp as buildGateway } from '@parley/realtime-gateway';
import { GatewayConfig } from '@parley/realtime-gateway/config';
import { closeInfra, createInfra, type Infra, loadConfig } from '@parley/service-kit';
import { ensureWebBuilt } from '@parley/web';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';

export interface StandaloneOptions {
  /** Environment to read (defaults to process.env). PORT, DATA_DIR, DATABASE_URL, NATS_URL, REDIS_URL, ... */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Build the web client if it is missing (default true). */
  buildWeb?: boolean;
}

export interface RunningParley {
  /** The gateway's base URL, e.g. http://localhost:3000 */
  url: string;
  mode: 'embedded' | 'connected';
  services: Record<string, string>;
  infra: Infra;
  /** Closes the gateway (sockets get 1001), the services, then the infrastructure. */
  close(): Promise<void>;
}

interface ServiceSpec {
  name: string;
  schema: Parameters<typeof loadConfig>[0];
  build: (config: never, infra: Infra) => Promise<FastifyInstance>;
}

const SERVICES: ServiceSpec[] = [
  { name: 'auth', schema: AuthConfig, build: buildAuth as ServiceSpec['build'] },
  { name: 'conversation', schema: ConversationConfig, build: buildConversation as ServiceSpec['build'] },
  { name: 'message', schema: MessageConfig, build: buildMessage as ServiceSpec['build'] },
  { name: 'notification', schema: NotificationConfig, build: buildNotification as ServiceSpec['build'] },
  { name: 'history', schema: HistoryConfig, build: buildHistory as ServiceSpec['build'] },
];

const URL_VAR: Record<string, string> = {
  auth: 'AUTH_URL',
  conversation: 'CONVERSATION_URL',
  message: 'MESSAGE_URL',
  notification: 'NOTIFICATION_URL',
  history: 'HISTORY_URL',
};

export async function startParley(opts: StandaloneOptions = {}): Promise<RunningParley> {
  const env = { ...(opts.env ?? process.env) };
  const logger = opts.logger ?? pino({ level: env.LOG_LEVEL ?? 'info', name: 'parley' });
  const dataDir = resolve(env.DATA_DIR ?? '.data');
  const connected = Boolean(env.DATABASE_URL);
  if (!connected) mkdirSync(join(dataDir, 'pglite'), { recursive: true });

  const t0 = Date.now();
  const webRootPromise = opts.buildWeb === false ? Promise.resolve(undefined) : ensureWebBuilt();
  const infra = await createInfra({
    service: 'parley',
    databaseUrl: env.DATABASE_URL,
    dataDir: connected ? undefined : join(dataDir, 'pglite'),
    natsUrl: env.NATS_URL,
    redisUrl: env.REDIS_URL,
    busPrefix: env.BUS_PREFIX,
    kvPrefix: env.KV_PREFIX,
    logger,
  });

  logger.debug({ ms: Date.now() - t0 }, 'infrastructure ready');
  const apps: FastifyInstance[] = [];
  const services: Record<string, string> = {};
  const closeAll = async () => {
    for (const app of [...apps].reverse()) {
      try {
        await app.close();
      } catch (err) {
        logger.warn({ err }, 'closing a service failed');
      }
    }
    await closeInfra(infra);
  };

  try {
    for (const spec of SERVICES) {
      // Each service reads the same environment; PORT is the gateway's, so a
      // service keeps its default and listens on a free loopback port instead.
      const { PORT: _gatewayPort, ...serviceEnv } = env;
      const config = loadConfig(spec.schema, {
        ...serviceEnv,
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        // Services sit behind the gateway on loopback: trust it (and only it)
        // for X-Forwarded-For, so per-IP login limits see the real client.
        TRUST_PROXY: 'loopback',
      });
      const app = await spec.build(config as never, infra);
      apps.push(app);
      await app.listen({ port: 0, host: '127.0.0.1' });
      const addr = app.server.address();
      if (!addr || typeof addr === 'string') throw new Error(`${spec.name} has no TCP address`);
      services[spec.name] = `http://127.0.0.1:${addr.port}`;
      logger.debug({ service: spec.name, ms: Date.now() - t0 }, 'service ready');
    }
    const webRoot = await webRootPromise;
    const gatewayEnv: Record<string, string | undefined> = { ...env, DATA_DIR: dataDir };
    for (const [name, url] of Object.entries(services)) gatewayEnv[URL_VAR[name]!] = url;
    if (webRoot && !gatewayEnv.WEB_ROOT) gatewayEnv.WEB_ROOT = webRoot;
    const gatewayConfig = loadConfig(GatewayConfig, gatewayEnv);
    const gateway = await buildGateway(gatewayConfig as never, infra);
    apps.push(gateway);
    const port = Number(env.PORT ?? 3000);
    const host = env.HOST ?? '0.0.0.0';
    await gateway.listen({ port, host });
    const addr = gateway.server.address();
    const actualPort = addr && typeof addr !== 'string' ? addr.port : port;
    return {
      url: `http://localhost:${actualPort}`,
      mode: connected ? 'connected' : 'embedded',
      services,
      infra,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
