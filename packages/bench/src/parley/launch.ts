/**
 * Starts the Parley under test, as child processes the bench can measure:
 *
 * - connected mode (default): a fresh database on the local Postgres, a
 *   unique bus prefix (subjects and JetStream streams) and key prefix on the
 *   local NATS and Redis; all three removed again at the end, nothing else
 *   on the shared servers touched;
 * - standalone mode: embedded infrastructure in a fresh data directory.
 *
 * Topology `single` runs everything in one process (`startParley`, what
 * `pnpm start` runs); `split` (connected only) runs each service and the
 * gateway as its own process through its own `server.ts`, as in a cluster.
 *
 * The rate limits are raised through the documented `RATE_LIMIT_*` variables
 * (and the gateway's per-socket frame rate), so the bench measures speed, not
 * the limits; every report says so.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { connect as natsConnect } from 'nats';
import postgres from 'postgres';
import { sleep } from '../clock';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BENCH_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('./runner.ts', import.meta.url));

export type Mode = 'connected' | 'standalone';
export type Topology = 'single' | 'split';

export interface ServerUrls {
  postgres: string;
  nats: string;
  redis: string;
}

export const LOCAL_SERVERS: ServerUrls = {
  postgres: process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  nats: process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
  redis: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
};

/** Limits raised for the bench (documented variables of API.md, plus the gateway's frame rate). */
export const RAISED_LIMITS: Record<string, string> = {
  RATE_LIMIT_ANON_PER_MIN: '1000000',
  RATE_LIMIT_USER_PER_MIN: '1000000',
  RATE_LIMIT_LOGIN_PER_MIN: '100000',
  RATE_LIMIT_SEND_PER_MIN: '1000000',
  RATE_LIMIT_SEND_BURST: '1000000',
  WS_FRAME_RATE_PER_SEC: '10000',
};

export interface ParleyProcess {
  name: string;
  pid: number;
}

export interface RunningParley {
  url: string;
  wsUrl: string;
  mode: Mode;
  topology: Topology;
  processes: ParleyProcess[];
  /** The process holding the WebSocket connections (idle RSS per connection). */
  gatewayPid: number;
  /** Milliseconds from the first spawn to ready. */
  startMs: number;
  /** Subject/stream prefix on the shared NATS (connected mode). */
  busPrefix?: string;
  stop(): Promise<void>;
}

export interface LaunchOptions {
  mode: Mode;
  topology: Topology;
  /** Child process output goes here (one file per process). */
  logDir: string;
  servers?: ServerUrls;
  env?: Record<string, string>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh database and prefixes on the shared servers; `drop()` removes exactly those. */
export interface Isolation {
  databaseUrl: string;
  busPrefix: string;
  kvPrefix: string;
  drop(): Promise<void>;
}

export async function isolate(servers: ServerUrls): Promise<Isolation> {
  const tag = `bench${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dbName = `parley_${tag}`;
  const admin = () => postgres(servers.postgres, { max: 1, connect_timeout: 5, onnotice: () => {} });
  const sql = admin();
  try {
    await sql.unsafe(`create database "${dbName}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const url = new URL(servers.postgres);
  url.pathname = `/${dbName}`;
  const busPrefix = tag;
  const kvPrefix = `${tag}:`;
  let dropped = false;
  return {
    databaseUrl: url.toString(),
    busPrefix,
    kvPrefix,
    async drop() {
      if (dropped) return;
      dropped = true;
      const errors: unknown[] = [];
      const s = admin();
      try {
        await s.unsafe(`drop database if exists "${dbName}" with (force)`);
      } catch (err) {
        errors.push(err);
      } finally {
        await s.end({ timeout: 5 });
      }
      try {
        const nc = await natsConnect({ servers: servers.nats, timeout: 5000 });
        try {
          const jsm = await nc.jetstreamManager();
          for await (const info of jsm.streams.list()) {
            const subjects = info.config.subjects ?? [];
            if (subjects.length > 0 && subjects.every((x) => x.startsWith(`${busPrefix}.`))) {
              await jsm.streams.delete(info.config.name);
            }
          }
        } finally {
          await nc.close();
        }
      } catch (err) {
        errors.push(err);
      }
      const redis = new Redis(servers.redis, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
      try {
        await redis.connect();
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${kvPrefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      } catch (err) {
        errors.push(err);
      } finally {
        redis.disconnect();
      }
      if (errors.length > 0) throw new AggregateError(errors, 'bench cleanup failed');
    },
  };
}

/**
 * `BENCH_PROFILE=gateway,message` (or `parley` in the single topology) runs
 * those processes with V8's CPU profiler; the profiles land in
 * `<logDir>/profiles/<name>/` when they exit (see src/tools/profile-top.ts).
 */
function profileArgs(name: string, logDir: string): string[] {
  const wanted = (process.env.BENCH_PROFILE ?? '').split(',').map((s) => s.trim());
  if (!wanted.includes(name) && !wanted.includes('all')) return [];
  // One directory per process: the tsx loader thread writes a (small) profile of its own beside the main one.
  return ['--cpu-prof', `--cpu-prof-dir=${join(logDir, 'profiles', name)}`];
}

interface Child {
  name: string;
  proc: ChildProcess;
  log: WriteStream;
}

function spawnLogged(
  name: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  logDir: string,
  ipc = false,
): Child {
  const log = createWriteStream(join(logDir, `${name}.log`));
  // An empty value removes the variable (e.g. the caller's DATABASE_URL in a standalone run).
  const merged: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === '') delete merged[k];
  const proc = spawn(process.execPath, [...profileArgs(name, logDir), ...args], {
    cwd,
    env: merged,
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.pipe(log, { end: false });
  proc.stderr?.pipe(log, { end: false });
  return { name, proc, log };
}

async function waitReady(url: string, child: Child, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited with ${child.proc.exitCode}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.name} at ${url} not ready within ${timeoutMs} ms`);
}

async function stopChild(c: Child, graceMs = 10_000): Promise<void> {
  const { proc } = c;
  if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const timer = setTimeout(() => {
      if (proc.exitCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
    }, graceMs);
    process.kill(proc.pid, 'SIGTERM');
    await exited;
    clearTimeout(timer);
  }
  c.log.end();
}

const SERVICES = ['auth', 'conversation', 'message', 'notification', 'history'] as const;
const URL_VAR: Record<(typeof SERVICES)[number], string> = {
  auth: 'AUTH_URL',
  conversation: 'CONVERSATION_URL',
  message: 'MESSAGE_URL',
  notification: 'NOTIFICATION_URL',
  history: 'HISTORY_URL',
};

export async function launchParley(opts: LaunchOptions): Promise<RunningParley> {
  const servers = opts.servers ?? LOCAL_SERVERS;
  const started = Date.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const iso = opts.mode === 'connected' ? await isolate(servers) : null;
  const children: Child[] = [];
  const baseEnv: Record<string, string> = {
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    AUTH_KEY_ENCRYPTION_SECRET: randomBytes(32).toString('base64'),
    WS_ALLOWED_ORIGINS: '*',
    ...RAISED_LIMITS,
    ...(iso
      ? {
          DATABASE_URL: iso.databaseUrl,
          NATS_URL: servers.nats,
          REDIS_URL: servers.redis,
          BUS_PREFIX: iso.busPrefix,
          KV_PREFIX: iso.kvPrefix,
        }
      : {}),
    ...opts.env,
  };
  // A standalone run must not pick up real servers from the caller's environment.
  const clearReal: Record<string, string> =
    opts.mode === 'standalone' ? { DATABASE_URL: '', NATS_URL: '', REDIS_URL: '' } : {};

  const stop = async () => {
    // Gateway first (clients get 1001), then the services, then the isolation.
    for (const c of [...children].reverse()) await stopChild(c);
    rmSync(dataDir, { recursive: true, force: true });
    await iso?.drop();
  };

  try {
    if (opts.topology === 'single' || opts.mode === 'standalone') {
      const port = await freePort();
      const env = { ...baseEnv, ...clearReal, PORT: String(port) };
      const child = spawnLogged('parley', ['--import', 'tsx', RUNNER], BENCH_ROOT, env, opts.logDir, true);
      children.push(child);
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('parley did not start within 120 s')), 120_000);
        child.proc.once('exit', (code) => reject(new Error(`parley exited at start (${code}); see parley.log`)));
        child.proc.once('message', (m: { url: string }) => {
          clearTimeout(timer);
          resolve(m.url.replace('localhost', '127.0.0.1'));
        });
      });
      await waitReady(url, child, 30_000);
      return {
        url,
        wsUrl: `${url.replace(/^http/, 'ws')}/v1/ws`,
        mode: opts.mode,
        topology: 'single',
        processes: [{ name: 'parley', pid: child.proc.pid ?? -1 }],
        gatewayPid: child.proc.pid ?? -1,
        startMs: Date.now() - started,
        busPrefix: iso?.busPrefix,
        stop,
      };
    }

    const urls: Record<string, string> = {};
    const serviceChildren: Child[] = [];
    for (const name of SERVICES) {
      const port = await freePort();
      const child = spawnLogged(
        name,
        ['--import', 'tsx', 'src/server.ts'],
        join(REPO_ROOT, 'services', name),
        { ...baseEnv, PORT: String(port), DATA_DIR: join(dataDir, name) },
        opts.logDir,
      );
      children.push(child);
      serviceChildren.push(child);
      urls[URL_VAR[name]] = `http://127.0.0.1:${port}`;
    }
    for (const [i, child] of serviceChildren.entries()) {
      await waitReady(urls[URL_VAR[SERVICES[i]!]]!, child, 120_000);
    }
    const gatewayPort = await freePort();
    const gateway = spawnLogged(
      'gateway',
      ['--import', 'tsx', 'src/server.ts'],
      join(REPO_ROOT, 'services', 'realtime-gateway'),
      { ...baseEnv, ...urls, PORT: String(gatewayPort) },
      opts.logDir,
    );
    children.push(gateway);
    const url = `http://127.0.0.1:${gatewayPort}`;
    await waitReady(url, gateway, 120_000);
    return {
      url,
      wsUrl: `ws://127.0.0.1:${gatewayPort}/v1/ws`,
      mode: 'connected',
      topology: 'split',
      processes: children.map((c) => ({ name: c.name, pid: c.proc.pid ?? -1 })),
      gatewayPid: gateway.proc.pid ?? -1,
      startMs: Date.now() - started,
      busPrefix: iso?.busPrefix,
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}
