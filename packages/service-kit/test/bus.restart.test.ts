/**
 * The NATS adapter across server failures, on a PRIVATE nats-server started
 * by this file (the shared one is never touched): killed with SIGKILL and
 * restarted on the same port and store, restarted with its store wiped, and
 * frozen (SIGSTOP) so a JetStream publish times out although the server will
 * store it. Every process started here is stopped by its PID in afterAll.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeEvent, subjectOf } from '@parley/contracts';
import { connect } from 'nats';
import { v7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../src/bus/bus';
import { createNatsBus, natsStreamName } from '../src/bus/nats-bus';
import { createPgliteDatabase } from '../src/db/pglite';
import { createOutbox } from '../src/outbox/outbox';
import { captureLogs } from '../src/testing/logs';
import { outbox as outboxTable } from './example-service/db/schema';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const available = existsSync(NATS_SERVER);
if (!available && process.env.CI) {
  throw new Error(`${NATS_SERVER} not found; CI is set, so this test fails instead of skipping`);
}

const AUTH_STREAM = { name: 'AUTH', subjects: ['user.>', 'session.>'] };
const FILTER = 'user.*.deleted';

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function userDeleted() {
  const userId = v7();
  const event = makeEvent('user.deleted', { userId, deletedAt: new Date().toISOString() }, { id: v7(), producer: 't' });
  return { event, subject: subjectOf('user.deleted', userId) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('data', (d) => done(d.toString().startsWith('INFO ')));
    s.once('error', () => done(false));
    setTimeout(() => done(false), 1000);
  });
}

class PrivateNats {
  proc: ChildProcess | null = null;
  constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], {
      stdio: 'ignore',
    });
    this.proc = proc;
    const deadline = Date.now() + 15_000;
    while (!(await greets(this.port))) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}`);
      if (Date.now() > deadline) throw new Error('private nats-server did not start');
      await sleep(50);
    }
    // The greeting must come from this process, not from another server that took the port first.
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error('private nats-server exited after start');
  }

  /** SIGKILL by PID, and wait until it is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  /**
   * kill(2) only queues the signal: on a loaded machine the server can still
   * answer for a moment. Wait until the kernel shows the process stopped
   * (state T in /proc/<pid>/stat) or running again.
   */
  async signal(sig: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    const proc = this.proc;
    if (!proc?.pid || !proc.kill(sig)) return;
    const deadline = Date.now() + 5_000;
    for (;;) {
      const stat = await readFile(`/proc/${proc.pid}/stat`, 'utf8').catch(() => '');
      // The state is the field after the parenthesised command name.
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === '' || (sig === 'SIGSTOP') === (state === 'T')) return;
      if (Date.now() > deadline) throw new Error(`nats-server still in state ${state} after ${sig}`);
      await sleep(5);
    }
  }
}

async function eventuallyReady(bus: Bus) {
  await expect
    .poll(
      async () => {
        try {
          await bus.ping();
          return true;
        } catch {
          return false;
        }
      },
      { timeout: 20_000, interval: 100 },
    )
    .toBe(true);
}

describe.skipIf(!available)('nats bus across server failures (private nats-server)', () => {
  let server: PrivateNats;
  let storeDir: string;
  const buses: Bus[] = [];

  beforeAll(async () => {
    storeDir = await mkdtemp(join(tmpdir(), 'parley-nats-'));
    server = new PrivateNats(await freePort(), storeDir);
    await server.start();
  });

  afterAll(async () => {
    await server?.signal('SIGCONT');
    await Promise.allSettled(buses.map((b) => b.close()));
    await server?.kill();
    if (storeDir) await rm(storeDir, { recursive: true, force: true });
  });

  async function newBus(prefix: string, opts: { publishTimeoutMs?: number; publishAttempts?: number } = {}) {
    const logs = captureLogs();
    const bus = await createNatsBus({ url: server.url, prefix, logger: logs.logger, fetchExpiresMs: 1000, ...opts });
    buses.push(bus);
    return { bus, logs };
  }

  it('keeps consuming after a kill -9 and restart on the same store, losing nothing', async () => {
    const { bus, logs } = await newBus('restart');
    await bus.ensureStream(AUTH_STREAM);
    const seen = new Set<string>();
    // A short ack wait: acks the killed server had not persisted come back as redeliveries (at least once).
    const handle = await bus.consume(
      { stream: 'auth', durable: 'survivor', filter: FILTER, ackWaitMs: 2000 },
      async (m) => {
        seen.add(m.event.id);
      },
    );

    const before = Array.from({ length: 5 }, () => userDeleted());
    for (const { event, subject } of before) await bus.publishDurable(subject, event);
    await expect.poll(() => seen.size, { timeout: 10_000 }).toBe(5);

    await server.kill();
    await server.start();
    await eventuallyReady(bus);

    const after = Array.from({ length: 5 }, () => userDeleted());
    for (const { event, subject } of after) await bus.publishDurable(subject, event);
    await expect.poll(() => seen.size, { timeout: 30_000 }).toBe(10);
    expect([...before, ...after].every(({ event }) => seen.has(event.id))).toBe(true);
    await expect.poll(() => handle.pending(), { timeout: 10_000 }).toBe(0);
    await handle.stop();
    // Operators see what happened; payloads are never logged.
    expect(logs.text()).toContain('nats disconnected');
    expect(logs.text()).not.toContain(after[0]!.event.data.userId);
  }, 60_000);

  it('recreates the stream and the consumer when the server comes back with an empty store', async () => {
    const { bus } = await newBus('wiped');
    await bus.ensureStream(AUTH_STREAM);
    const seen = new Set<string>();
    const handle = await bus.consume({ stream: 'auth', durable: 'phoenix', filter: FILTER }, async (m) => {
      seen.add(m.event.id);
    });
    const first = userDeleted();
    await bus.publishDurable(first.subject, first.event);
    await expect.poll(() => seen.has(first.event.id), { timeout: 10_000 }).toBe(true);

    await server.kill();
    await rm(storeDir, { recursive: true, force: true });
    await server.start();
    await eventuallyReady(bus);

    const after = Array.from({ length: 3 }, () => userDeleted());
    for (const { event, subject } of after) await bus.publishDurable(subject, event);
    await expect.poll(() => after.every(({ event }) => seen.has(event.id)), { timeout: 30_000 }).toBe(true);

    const nc = await connect({ servers: server.url });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.consumers.info(natsStreamName('wiped', 'AUTH'), 'phoenix');
      expect(info.config.filter_subject).toBe(`wiped.${FILTER}`);
    } finally {
      await nc.close();
    }
    await handle.stop();
  }, 60_000);

  it('the outbox relay puts its stream back when the server comes back with an empty store', async () => {
    const { bus, logs } = await newBus('outboxwiped');
    const db = await createPgliteDatabase();
    try {
      await db.migrate({
        schema: 'example',
        migrationsFolder: fileURLToPath(new URL('./example-service/drizzle', import.meta.url)),
      });
      const outbox = createOutbox({
        infra: { db, bus, logger: logs.logger },
        schema: 'example',
        producer: 'auth',
        table: outboxTable,
        sweepIntervalMs: 200,
        retryBackoffMs: { initial: 50, max: 500 },
      });
      const emitOne = () =>
        outbox.transaction((_tx, emit) => emit('user.deleted', { userId: v7(), deletedAt: new Date().toISOString() }));
      await outbox.start();
      await emitOne();
      await expect.poll(() => outbox.backlog(), { timeout: 10_000 }).toBe(0);

      // No consumer would recreate the stream: only the relay can.
      await server.kill();
      await rm(storeDir, { recursive: true, force: true });
      await server.start();
      await eventuallyReady(bus);
      for (let i = 0; i < 3; i++) await emitOne();
      await expect.poll(() => outbox.backlog(), { timeout: 30_000, interval: 100 }).toBe(0);
      await outbox.stop();

      const nc = await connect({ servers: server.url });
      try {
        const jsm = await nc.jetstreamManager();
        const info = await jsm.streams.info(natsStreamName('outboxwiped', 'AUTH'));
        expect(info.state.messages).toBe(3);
      } finally {
        await nc.close();
      }
    } finally {
      await db.close();
    }
  }, 60_000);

  it('retries a durable publish that timed out with the same event id, and the stream stores it once', async () => {
    const { bus, logs } = await newBus('frozen', { publishTimeoutMs: 300, publishAttempts: 10 });
    await bus.ensureStream(AUTH_STREAM);
    const { event, subject } = userDeleted();

    const retries = () => logs.records().filter((r) => r.msg === 'durable publish not acked; retrying same id');
    await server.signal('SIGSTOP');
    const published = bus.publishDurable(subject, event);
    // Wait until two attempts timed out: the frozen server now holds several copies of the publish.
    await expect.poll(() => retries().length, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(2);
    await server.signal('SIGCONT');
    await published;
    expect(retries().every((r) => r.eventId === event.id)).toBe(true);

    const nc = await connect({ servers: server.url });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(natsStreamName('frozen', 'AUTH'));
      expect(info.state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  }, 30_000);
});
