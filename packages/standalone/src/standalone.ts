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
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA as AUTH_SCHEMA, buildApp as buildAuth } from '@parley/auth';
import { AuthConfig } from '@parley/auth/config';
import { SCHEMA as CONVERSATION_SCHEMA, buildApp as buildConversation } from '@parley/conversation';
import { ConversationConfig } from '@parley/conversation/config';
import { SCHEMA as HISTORY_SCHEMA, buildApp as buildHistory } from '@parley/history';
import { HistoryConfig } from '@parley/history/config';
import { SCHEMA as MESSAGE_SCHEMA, buildApp as buildMessage } from '@parley/message';
import { MessageConfig } from '@parley/message/config';
import { SCHEMA as NOTIFICATION_SCHEMA, buildApp as buildNotification } from '@parley/notification';
import { NotificationConfig } from '@parley/notification/config';
import { buildApp as buildGateway } from '@parley/realtime-gateway';
import { GatewayConfig } from '@parley/realtime-gateway/config';
import {
  closeInfra,
  createInfra,
  type Infra,
  loadConfig,
  type MigrateOptions,
  type OpenedPglite,
  openPglite,
} from '@parley/service-kit';
import { ensureWebBuilt } from '@parley/web';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';

export interface StandaloneOptions {
  /** Environment to read (defaults to process.env). PORT, DATA_DIR, DATABASE_URL, NATS_URL, REDIS_URL, ... */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Build the web client if it is missing (default true). */
  buildWeb?: boolean;
  /**
   * Embedded mode: where the template of a fresh data directory is kept
   * (default `node_modules/.cache/parley` at the repository root); `false`
   * initialises a fresh directory from scratch every time.
   */
  templateCacheDir?: string | false;
}

/** Where the start-up time went (milliseconds since startParley was called). */
export interface StartupReport {
  /** Embedded mode: how the database came to be (see OpenedPglite.origin); connected: undefined. */
  database?: OpenedPglite['origin'];
  /** Milliseconds at which each phase ended, in order. */
  phases: { phase: string; ms: number }[];
  /** Migrations a service applied that the template did not hold (should be none: see SERVICES). */
  migrationsMissingFromTemplate: string[];
}

export interface RunningParley {
  /** The gateway's base URL, e.g. http://localhost:3000 */
  url: string;
  mode: 'embedded' | 'connected';
  services: Record<string, string>;
  infra: Infra;
  startup: StartupReport;
  /** Closes the gateway (sockets get 1001), the services, then the infrastructure. */
  close(): Promise<void>;
}

interface ServiceSpec {
  name: string;
  schema: Parameters<typeof loadConfig>[0];
  build: (config: never, infra: Infra) => Promise<FastifyInstance>;
  /** The service's Postgres schema and package (its migrations are `<package>/drizzle`, as its app.ts says). */
  dbSchema: string;
  pkg: string;
}

const SERVICES: ServiceSpec[] = [
  {
    name: 'auth',
    schema: AuthConfig,
    build: buildAuth as ServiceSpec['build'],
    dbSchema: AUTH_SCHEMA,
    pkg: '@parley/auth',
  },
  {
    name: 'conversation',
    schema: ConversationConfig,
    build: buildConversation as ServiceSpec['build'],
    dbSchema: CONVERSATION_SCHEMA,
    pkg: '@parley/conversation',
  },
  {
    name: 'message',
    schema: MessageConfig,
    build: buildMessage as ServiceSpec['build'],
    dbSchema: MESSAGE_SCHEMA,
    pkg: '@parley/message',
  },
  {
    name: 'notification',
    schema: NotificationConfig,
    build: buildNotification as ServiceSpec['build'],
    dbSchema: NOTIFICATION_SCHEMA,
    pkg: '@parley/notification',
  },
  {
    name: 'history',
    schema: HistoryConfig,
    build: buildHistory as ServiceSpec['build'],
    dbSchema: HISTORY_SCHEMA,
    pkg: '@parley/history',
  },
];

/** Every service's migrations, which a fresh embedded database starts with (its template). */
export function serviceMigrations(): MigrateOptions[] {
  const require = createRequire(import.meta.url);
  return SERVICES.map((s) => ({
    schema: s.dbSchema,
    // Each app.ts resolves `../drizzle` from its own src/app.ts: the same folder.
    migrationsFolder: join(dirname(require.resolve(s.pkg)), '..', 'drizzle'),
  }));
}

const DEFAULT_TEMPLATE_CACHE = fileURLToPath(new URL('../../../node_modules/.cache/parley', import.meta.url));

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

  const t0 = performance.now();
  const startup: StartupReport = { phases: [], migrationsMissingFromTemplate: [] };
  const phase = (name: string, fields: Record<string, unknown> = {}) => {
    const ms = Math.round(performance.now() - t0);
    startup.phases.push({ phase: name, ms });
    logger.debug({ phase: name, ms, ...fields }, 'start-up phase done');
  };

  const webRootPromise = opts.buildWeb === false ? Promise.resolve(undefined) : ensureWebBuilt();
  // Embedded: one PGlite for every service; a fresh data directory starts
  // from the template holding every service's migrations (initdb and the
  // migrations run once per machine, not once per directory).
  let opened: OpenedPglite | undefined;
  const templateCacheDir = opts.templateCacheDir ?? DEFAULT_TEMPLATE_CACHE;
  const templateMigrations = templateCacheDir === false ? [] : serviceMigrations();
  if (!connected) {
    const pgDir = join(dataDir, 'pglite');
    mkdirSync(pgDir, { recursive: true });
    opened = await openPglite({
      dataDir: pgDir,
      template: templateCacheDir === false ? undefined : { cacheDir: templateCacheDir, migrations: templateMigrations },
    });
    startup.database = opened.origin;
    if (opened.templateError) {
      logger.warn({ err: opened.templateError, dir: opened.templateDir }, 'could not save the database template');
    }
    phase('database', { origin: opened.origin, templateDir: opened.templateDir });
  }
  const pglite = opened?.pglite;
  let infra: Infra;
  try {
    infra = await createInfra({
      service: 'parley',
      databaseUrl: env.DATABASE_URL,
      pglite,
      natsUrl: env.NATS_URL,
      redisUrl: env.REDIS_URL,
      busPrefix: env.BUS_PREFIX,
      kvPrefix: env.KV_PREFIX,
      logger,
    });
  } catch (err) {
    await pglite?.close();
    throw err;
  }
  phase('infrastructure');

  // Migrations the template did not hold are applied all the same; they are
  // recorded so a template that fell behind the services shows.
  const inTemplate = new Set(templateMigrations.map((m) => `${m.schema} ${resolve(m.migrationsFolder)}`));
  const db = infra.db;
  const serviceInfra: Infra = {
    ...infra,
    db: {
      ...db,
      migrate: (m) => {
        if (opened?.origin === 'loaded' && !inTemplate.has(`${m.schema} ${resolve(m.migrationsFolder)}`)) {
          startup.migrationsMissingFromTemplate.push(`${m.schema} ${m.migrationsFolder}`);
          logger.warn(
            { schema: m.schema, folder: m.migrationsFolder },
            'migrations missing from the database template',
          );
        }
        return db.migrate(m);
      },
    },
  };

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
    if (pglite && !pglite.closed) await pglite.close();
  };

  try {
    // The services do not depend on each other to start (each also starts
    // alone in cluster mode), so they build and listen concurrently; they
    // are closed in reverse order of this list.
    const built = await Promise.allSettled(
      SERVICES.map(async (spec) => {
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
        const app = await spec.build(config as never, serviceInfra);
        try {
          await app.listen({ port: 0, host: '127.0.0.1' });
        } catch (err) {
          await app.close().catch(() => undefined);
          throw err;
        }
        const addr = app.server.address();
        if (!addr || typeof addr === 'string') {
          await app.close();
          throw new Error(`${spec.name} has no TCP address`);
        }
        phase(`service ${spec.name}`);
        return { app, url: `http://127.0.0.1:${addr.port}` };
      }),
    );
    let failure: unknown;
    built.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        apps.push(r.value.app);
        services[SERVICES[i]!.name] = r.value.url;
      } else failure ??= r.reason;
    });
    if (failure) throw failure;

    const webRoot = await webRootPromise;
    const gatewayEnv: Record<string, string | undefined> = { ...env, DATA_DIR: dataDir };
    for (const [name, url] of Object.entries(services)) gatewayEnv[URL_VAR[name]!] = url;
    if (webRoot && !gatewayEnv.WEB_ROOT) gatewayEnv.WEB_ROOT = webRoot;
    const gatewayConfig = loadConfig(GatewayConfig, gatewayEnv);
    const gateway = await buildGateway(gatewayConfig as never, serviceInfra);
    apps.push(gateway);
    const port = Number(env.PORT ?? 3000);
    const host = env.HOST ?? '0.0.0.0';
    await gateway.listen({ port, host, backlog: gatewayConfig.LISTEN_BACKLOG });
    const addr = gateway.server.address();
    const actualPort = addr && typeof addr !== 'string' ? addr.port : port;
    phase('gateway');
    return {
      url: `http://localhost:${actualPort}`,
      mode: connected ? 'connected' : 'embedded',
      services,
      infra,
      startup,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
