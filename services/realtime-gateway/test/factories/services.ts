/**
 * Starts the real Parley services (auth, conversation, message,
 * notification, history) as child processes through their own `server.ts`,
 * on free ports, against the test infra's database, bus prefix and key
 * prefix. Each is stopped by its PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testServers } from '@parley/service-kit/testing';
import type { ServiceName } from '../../src/config';

const SERVICES_DIR = fileURLToPath(new URL('../../../', import.meta.url));

export interface RunningServices {
  urls: Partial<Record<ServiceName, string>>;
  /** Output of the processes, for failure messages. */
  output(): string;
  stop(): Promise<void>;
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

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`service at ${url} exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`service at ${url} not healthy in ${timeoutMs} ms`);
}

export async function startServices(
  infra: { databaseUrl?: string; busPrefix: string; kvPrefix: string },
  env: Record<string, string> = {},
  names: ServiceName[] = ['auth', 'conversation', 'message', 'notification', 'history'],
): Promise<RunningServices> {
  const servers = testServers();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-gw-'));
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const urls: Partial<Record<ServiceName, string>> = {};
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.pid === undefined) return resolve();
            const timer = setTimeout(() => {
              if (c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
            }, 5000);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            process.kill(c.pid, 'SIGTERM');
          }),
      ),
    );
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    for (const name of names) {
      const cwd = join(SERVICES_DIR, name);
      if (!existsSync(join(cwd, 'src', 'server.ts'))) continue;
      const port = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        cwd,
        env: {
          ...process.env,
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          DATABASE_URL: infra.databaseUrl,
          NATS_URL: servers.natsUrl,
          REDIS_URL: servers.redisUrl,
          BUS_PREFIX: infra.busPrefix,
          KV_PREFIX: infra.kvPrefix,
          DATA_DIR: join(dataDir, name),
          AUTH_KEY_ENCRYPTION_SECRET: 'gateway-integration-test-secret-0123456789',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (d) => logs.push(`[${name}] ${d}`));
      child.stderr?.on('data', (d) => logs.push(`[${name}] ${d}`));
      children.push(child);
      urls[name] = `http://127.0.0.1:${port}`;
    }
    for (const [i, name] of Object.keys(urls).entries()) {
      await waitHealthy(urls[name as ServiceName]!, children[i]!, 60_000);
    }
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${logs.join('').slice(-4000)}`);
  }
  return { urls, output: () => logs.join(''), stop };
}
