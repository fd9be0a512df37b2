/**
 * `runService`: the only place that listens. Builds the app, listens, and on
 * SIGTERM/SIGINT (or an uncaught error) closes gracefully with
 * close-with-grace: first the app (stops accepting, lets in-flight requests
 * finish, runs the service's onClose hooks: consumers, outbox relay), then
 * `onClose` (normally `closeInfra`: drain NATS, end SQL, quit Redis).
 */
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import type { TObject } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { type BaseServiceConfig, loadConfig } from '../config';
import type { Infra } from '../infra';
import { closeInfra, createInfra, infraConfigOf } from '../infra-factory';

export interface RunServiceOptions {
  port: number;
  host?: string;
  /** Listen backlog (default 4096, capped by the kernel's net.core.somaxconn). */
  backlog?: number;
  /** Logger for lifecycle lines; default the app's. */
  logger?: Pick<Logger, 'info' | 'error' | 'fatal'>;
  /** Runs after the app closed, e.g. `() => closeInfra(infra)`. */
  onClose?: () => Promise<void> | void;
  /** Max time for the whole shutdown before the process exits anyway (default 10 s). */
  graceMs?: number;
}

export interface RunningService {
  app: FastifyInstance;
  address: string;
  /** Closes like a SIGTERM would, without exiting the process. */
  close(): Promise<void>;
}

type Build = () => Promise<FastifyInstance> | FastifyInstance;

export function runService(build: Build, opts: RunServiceOptions): Promise<RunningService>;
export function runService(opts: RunServiceOptions & { build: Build }): Promise<RunningService>;
export async function runService(
  buildOrOpts: Build | (RunServiceOptions & { build: Build }),
  maybeOpts?: RunServiceOptions,
): Promise<RunningService> {
  const { build, ...opts } =
    typeof buildOrOpts === 'function' ? { build: buildOrOpts, ...(maybeOpts as RunServiceOptions) } : buildOrOpts;

  let app: FastifyInstance;
  try {
    app = await build();
  } catch (err) {
    opts.logger?.fatal({ err }, 'service failed to build');
    await opts.onClose?.();
    throw err;
  }
  const log = opts.logger ?? app.log;

  if (process.argv.includes('--migrate-only')) {
    // Building applied the migrations (under the advisory lock): the init
    // container's work is done. Close without listening.
    log.info('migrations applied (--migrate-only); exiting');
    await app.close();
    await opts.onClose?.();
    return { app, address: '', close: async () => {} };
  }

  let closing: Promise<void> | undefined;
  let grace: ReturnType<typeof closeWithGrace> | undefined;
  const close = () => {
    closing ??= (async () => {
      try {
        await app.close();
      } finally {
        grace?.uninstall();
        await opts.onClose?.();
      }
    })();
    return closing;
  };

  let address: string;
  try {
    address = await app.listen({ port: opts.port, host: opts.host ?? '0.0.0.0', backlog: opts.backlog ?? 4096 });
  } catch (err) {
    log.fatal({ err }, 'service failed to listen');
    await close();
    throw err;
  }
  log.info({ address }, 'service listening');

  grace = closeWithGrace({ delay: opts.graceMs ?? 10_000, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'closing after an uncaught error');
    else log.info({ signal }, 'closing');
    await close();
    log.info('closed');
  });
  return { app, address, close };
}

/**
 * The whole of a service's `server.ts`: validate the environment against the
 * service's config schema, create its infrastructure (real servers when their
 * URLs are set, embedded otherwise), build and run it until a signal.
 */
export async function startService<C extends BaseServiceConfig>(spec: {
  name: string;
  schema: TObject;
  build: (config: C, infra: Infra) => Promise<FastifyInstance>;
}): Promise<RunningService> {
  const config = loadConfig(spec.schema) as C;
  const infra = await createInfra(infraConfigOf(config, spec.name));
  return runService(() => spec.build(config, infra), {
    port: config.PORT,
    host: config.HOST,
    backlog: config.LISTEN_BACKLOG,
    onClose: () => closeInfra(infra),
  });
}
