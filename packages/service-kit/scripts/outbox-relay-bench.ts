/**
 * Cost of the outbox relay against the real Postgres and NATS.
 *
 *   pnpm --filter @parley/service-kit exec tsx scripts/outbox-relay-bench.ts [--events 2000] [--writers 4]
 *
 * For each scenario (all events on ONE subject, or spread over 200 subjects;
 * written in transactions of 1 or of 50 events) it runs two phases on a fresh
 * database and bus prefix (createTestInfra, removed at the end):
 * - backlog: the events are written with the relay stopped (as after an
 *   outage or a burst), then the relay starts; reports the time until the
 *   last event is acknowledged by JetStream and marked published, and the CPU
 *   spent meanwhile by this process (the relay), by this database's Postgres
 *   backends and by nats-server (shared machine: the last is indicative);
 * - live: `--writers` concurrent writers commit the events while the relay
 *   runs (woken after every commit, as in a service); reports the time from
 *   the first write until everything is published and this process's CPU,
 *   minus the writers' own CPU measured in the backlog phase (= the relay's).
 * Prints one table; CPU figures are ms per event.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STREAMS } from '@parley/contracts';
import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { newId } from '../src/ids';
import { createOutbox, type Outbox } from '../src/outbox/outbox';
import { createTestInfra, type TestInfra } from '../src/testing/infra';
import { outbox as table } from '../test/example-service/db/schema';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = arg('events', 2000);
const WRITERS = arg('writers', 4);
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
function pidsNamed(name: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Meter {
  stop(): { self: number; pg: number; nats: number };
}
async function meter(infra: TestInfra): Promise<Meter> {
  // Open every pooled connection so their backends exist (and are counted) from the start.
  await Promise.all(Array.from({ length: 5 }, () => infra.db.db.execute(sql`select pg_sleep(0.02)`)));
  const rows = await infra.db.rows<{ pid: number }>(
    sql`select pid from pg_stat_activity where datname = current_database()`,
  );
  const pg = rows.map((r) => Number(r.pid));
  const nats = pidsNamed('nats-server');
  const start = { self: selfCpuMs(), pg: procCpuMs(pg), nats: procCpuMs(nats) };
  return {
    stop: () => ({
      self: selfCpuMs() - start.self,
      pg: procCpuMs(pg) - start.pg,
      nats: procCpuMs(nats) - start.nats,
    }),
  };
}

async function publishedCount(registry: Registry): Promise<number> {
  const m = registry.getSingleMetric('outbox_published_total');
  return (await m!.get()).values[0]?.value ?? 0;
}
async function waitPublished(o: Outbox, registry: Registry, n: number): Promise<void> {
  while ((await publishedCount(registry)) < n) await new Promise((r) => setTimeout(r, 2));
  while ((await o.backlog()) > 0) await new Promise((r) => setTimeout(r, 2));
}

async function write(o: Outbox, subjects: string[], txSize: number) {
  let next = 0;
  const writer = async () => {
    while (next < EVENTS) {
      const from = next;
      next = Math.min(EVENTS, next + txSize);
      await o.transaction(async (_tx, emit) => {
        for (let i = from; i < from + txSize && i < EVENTS; i++) {
          await emit('user.deleted', { userId: subjects[i % subjects.length]!, deletedAt: new Date().toISOString() });
        }
      });
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
}

interface Row {
  scenario: string;
  backlogMs: number;
  backlogRelayCpu: number;
  backlogPgCpu: number;
  backlogNatsCpu: number;
  writeCpu: number;
  liveMs: number;
  liveRelayCpu: number;
}

async function scenario(infra: TestInfra, subjectCount: number, txSize: number): Promise<Row> {
  const subjects = Array.from({ length: subjectCount }, () => newId());
  const make = (registry: Registry) =>
    createOutbox({ infra, schema: 'example', producer: 'auth', table, sweepIntervalMs: 3_600_000, metrics: registry });

  // Backlog phase.
  await infra.db.db.execute(sql`truncate example.outbox`);
  const r1 = new Registry();
  const o1 = make(r1);
  let m = await meter(infra);
  await write(o1, subjects, txSize);
  const writeCpu = m.stop().self;
  m = await meter(infra);
  const t0 = performance.now();
  await o1.start();
  await waitPublished(o1, r1, EVENTS);
  const backlogMs = performance.now() - t0;
  const b = m.stop();
  await o1.stop();

  // Live phase.
  await infra.db.db.execute(sql`truncate example.outbox`);
  const r2 = new Registry();
  const o2 = make(r2);
  await o2.start();
  m = await meter(infra);
  const t1 = performance.now();
  await write(o2, subjects, txSize);
  await waitPublished(o2, r2, EVENTS);
  const liveMs = performance.now() - t1;
  const l = m.stop();
  await o2.stop();

  return {
    scenario: `${subjectCount} subject${subjectCount > 1 ? 's' : ''}, tx of ${txSize}`,
    backlogMs,
    backlogRelayCpu: b.self / EVENTS,
    backlogPgCpu: b.pg / EVENTS,
    backlogNatsCpu: b.nats / EVENTS,
    writeCpu: writeCpu / EVENTS,
    liveMs,
    liveRelayCpu: Math.max(0, l.self - writeCpu) / EVENTS,
  };
}

const infra = await createTestInfra({ service: 'outboxbench' });
try {
  await infra.db.migrate({ schema: 'example', migrationsFolder });
  await infra.bus.ensureStream({ name: STREAMS.auth.name, subjects: STREAMS.auth.subjects });
  // Warm-up (JIT, prepared statements, stream lookups), not reported.
  await scenario(infra, 10, 10);
  const rows: Row[] = [];
  for (const subjects of [1, 200]) for (const tx of [1, 50]) rows.push(await scenario(infra, subjects, tx));
  const f = (n: number, d = 3) => n.toFixed(d);
  console.log(
    `events per scenario: ${EVENTS}, live writers: ${WRITERS}, loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
  );
  console.log(
    'scenario                 | backlog: ms to publish | relay CPU ms/ev | pg CPU ms/ev | nats CPU ms/ev || write CPU ms/ev || live: ms to publish | relay CPU ms/ev',
  );
  for (const r of rows) {
    console.log(
      `${r.scenario.padEnd(24)} | ${f(r.backlogMs, 0).padStart(22)} | ${f(r.backlogRelayCpu).padStart(15)} | ${f(r.backlogPgCpu).padStart(12)} | ${f(r.backlogNatsCpu).padStart(14)} || ${f(r.writeCpu).padStart(15)} || ${f(r.liveMs, 0).padStart(19)} | ${f(r.liveRelayCpu).padStart(15)}`,
    );
  }
} finally {
  await infra.close();
}
