/**
 * The Redis adapter while its server goes away and comes back: calls fail
 * fast with KeyValueUnavailableError (no queueing, no hang) and the client
 * reconnects by itself. Runs against a private redis-server this file starts
 * and kills by PID, never the shared one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { KeyValueUnavailableError } from '../src/kv/key-value';
import { createRedisKv } from '../src/kv/redis-kv';

const port = 16_000 + Math.floor(Math.random() * 1000);
let server: ChildProcess | undefined;

const listening = () =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

async function startRedis() {
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  await vi.waitFor(async () => expect(await listening()).toBe(true), { timeout: 10_000, interval: 50 });
}
async function killRedis() {
  const s = server;
  if (!s || s.exitCode !== null) return;
  const exited = new Promise((r) => s.once('exit', r));
  s.kill('SIGKILL');
  await exited;
}

afterAll(killRedis);

describe('redis kv across a Redis restart', () => {
  it('fails fast while Redis is down and works again once it is back', async () => {
    await startRedis();
    const kv = createRedisKv({ url: `redis://127.0.0.1:${port}`, prefix: 'restart:' });
    try {
      expect((await kv.incr('hits', { ttlMs: 60_000 })).value).toBe(1);

      await killRedis();
      await vi.waitFor(() => expect(kv.get('hits')).rejects.toBeInstanceOf(KeyValueUnavailableError), {
        timeout: 5_000,
      });
      await expect(kv.incr('hits', { ttlMs: 60_000 })).rejects.toBeInstanceOf(KeyValueUnavailableError);
      await expect(kv.ping()).rejects.toBeInstanceOf(KeyValueUnavailableError);

      await startRedis();
      await vi.waitFor(() => expect(kv.ping()).resolves.toBeUndefined(), { timeout: 15_000, interval: 100 });
      // The private server keeps nothing across restarts: the counter starts over, counted once.
      expect((await kv.incr('hits', { ttlMs: 60_000 })).value).toBe(1);
    } finally {
      await kv.close();
    }
  });
});
