/**
 * `runService`: the only place that listens. Builds the app, listens, and on
 * SIGTERM/SIGINT (or an uncaught error) closes gracefully with
 * close-with-grace: first the app (stops accepting, lets in-flight requests
 * finish, runs the service's onClose hooks: consumers, outbox relay), then
 * `onClose` (normally `closeInfra`: drain NATS, end SQL, quit Redis).
 */
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

export interface RunServiceOptions {
  port: number;
  host?: string;
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
    address = await app.listen({ port: opts.port, host: opts.host ?? '0.0.0.0' });
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
