/**
 * Cost of an idempotent durable consumer (`consumers.on()`) against the real
 * Postgres and NATS.
 *
 *   pnpm --filter @parley/service-kit exec tsx scripts/consumer-batch-bench.ts [--events 2000] [--rate 500]
 *
 * The handler does what a typical read-model consumer does: one insert
 * (an upsert into the example service's profile_updates). Two phases, each
 * on a fresh database and bus prefix (createTestInfra, removed at the end):
 * - backlog: `--events` events are published first (as after an outage or a
 *   burst), then the consumer starts; reports events/s until the last one is
 *   committed and acked, this process's CPU (the consumer) and this
 *   database's Postgres backends' CPU per event, and the transactions
 *   per event (distinct `tx` handles the handler was given);
 * - live: the events are published at `--rate` per second while the consumer
 *   runs; reports the same, this process's CPU minus the publisher's own CPU
 *   measured while publishing the backlog (= the consumer's).
 *
 * Measured on the shared 2-core machine (2,000 events, `--rate 500`; the
 * throughput varies with the machine's load, CPU per event much less):
 *   one transaction per event (before batching):
 *     backlog 306 / 116 ev/s, consumer CPU 1.78 / 1.97 ms/ev, postgres 0.68 / 0.80 ms/ev, 1 tx/ev
 *   batched on():
 *     backlog 780 / 303 ev/s, consumer CPU 0.67 / 0.89 ms/ev, postgres 0.17 / 0.23 ms/ev, 0.010 tx/ev
 *     live@500: consumer CPU 0.68 / 0.77 ms/ev (before: 1.65 / 1.69), 0.011 tx/ev
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeEvent, STREAMS } from '@parley/contracts';
import { sql } from 'drizzle-orm';
import { createConsumers } from '../src/consumers/consumers';
import { newId } from '../src/ids';
import { createTestInfra, type TestInfra } from '../src/testing/infra';
import { processedEvents, profileUpdates } from '../test/example-service/db/schema';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = arg('events', 2000);
const RATE = arg('rate', 500);
const migrationsFolder = fileURLToPath(new URL('../test/example-service/drizzle', import.meta.url));

const TICK_MS = 10; // USER_HZ = 100 on Linux
function procCpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // process gone
    }
  }
  return ticks * TICK_MS;
}
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function setup(): Promise<TestInfra> {
  const infra = await createTestInfra({ service: 'cbench' });
  await infra.db.migrate({ schema: 'example', migrationsFolder });
  await infra.bus.ensureStream({ name: STREAMS.auth.name, subjects: STREAMS.auth.subjects });
  // Open every pooled connection so their backends exist (and are counted) from the start.
  await Promise.all(Array.from({ length: 5 }, () => infra.db.db.execute(sql`select pg_sleep(0.02)`)));
  return infra;
}

const events = () =>
  Array.from({ length: EVENTS }, () => {
    const userId = newId();
    return makeEvent(
      'user.deleted',
      { userId, deletedAt: new Date().toISOString() },
      { id: newId(), producer: 'auth' },
    );
  });

async function publishAll(infra: TestInfra, list: ReturnType<typeof events>, perSecond?: number) {
  const started = Date.now();
  const inflight = new Set<Promise<void>>();
  for (let i = 0; i < list.length; i++) {
    if (perSecond) {
      const due = started + (i * 1000) / perSecond;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const e = list[i]!;
    const p = infra.bus.publishDurable(`user.${e.data.userId}.deleted`, e).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 64) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

interface Result {
  ms: number;
  selfCpu: number;
  pgCpu: number;
  xacts: number;
}

async function consume(infra: TestInfra, durable: string, during?: () => Promise<void>): Promise<Result> {
  const pgPids = (
    await infra.db.rows<{ pid: number }>(sql`select pid from pg_stat_activity where datname = current_database()`)
  ).map((r) => Number(r.pid));
  const consumers = createConsumers({ infra, schema: 'example', table: processedEvents, service: 'example' });
  const t0 = Date.now();
  const c0 = selfCpuMs();
  const p0 = procCpuMs(pgPids);
  const txs = new Set<unknown>();
  const handle = await consumers.on({ stream: 'auth', durable, filter: 'user.*.deleted' }, async (event, tx) => {
    txs.add(tx);
    const { userId } = event.data as { userId: string };
    await tx
      .insert(profileUpdates)
      .values({ userId, count: 1 })
      .onConflictDoUpdate({ target: profileUpdates.userId, set: { count: sql`${profileUpdates.count} + 1` } });
  });
  const feeding = during?.();
  for (;;) {
    const [row] = await infra.db.rows<{ n: number }>(
      sql`select count(*)::int as n from ${processedEvents} where consumer = ${durable}`,
    );
    if ((row?.n ?? 0) >= EVENTS) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await feeding;
  while ((await handle.pending()) > 0) await new Promise((r) => setTimeout(r, 5));
  const ms = Date.now() - t0;
  const selfCpu = selfCpuMs() - c0;
  const pgCpu = procCpuMs(pgPids) - p0;
  await consumers.stop();
  const xacts = txs.size;
  const [{ n } = { n: 0 }] = await infra.db.rows<{ n: number }>(sql`select count(*)::int as n from ${profileUpdates}`);
  if (n !== EVENTS) throw new Error(`expected ${EVENTS} effects, found ${n}`);
  return { ms, selfCpu, pgCpu, xacts };
}

const fmt = (label: string, r: Result, publishCpu = 0) =>
  `${label.padEnd(8)} ${(EVENTS / (r.ms / 1000)).toFixed(0).padStart(7)} ev/s  consumer CPU ${((r.selfCpu - publishCpu) / EVENTS).toFixed(3)} ms/ev  postgres CPU ${(r.pgCpu / EVENTS).toFixed(3)} ms/ev  ${(r.xacts / EVENTS).toFixed(3)} tx/ev  (${r.ms} ms)`;

async function main() {
  const lines: string[] = [];
  {
    const infra = await setup();
    try {
      const c0 = selfCpuMs();
      await publishAll(infra, events());
      const publishCpu = selfCpuMs() - c0;
      const r = await consume(infra, 'bench-backlog');
      lines.push(fmt('backlog', r));
      lines.push(`(publishing ${EVENTS} events cost this process ${(publishCpu / EVENTS).toFixed(3)} ms/ev)`);
      const infra2 = await setup();
      try {
        const list = events();
        const live = await consume(infra2, 'bench-live', () => publishAll(infra2, list, RATE));
        lines.push(fmt(`live@${RATE}`, live, publishCpu));
      } finally {
        await infra2.close();
      }
    } finally {
      await infra.close();
    }
  }
  console.log(`events: ${EVENTS}, handler: one upsert`);
  for (const l of lines) console.log(l);
}

await main();
