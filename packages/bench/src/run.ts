/**
 * One bench run: start Parley and the load generators, set up users and
 * conversations, run the chosen scenarios, write JSON per scenario, the
 * summary and the charts, and stop everything that was started (by PID).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { ConsumerLag } from './consumer-lag';
import { WorkerPool } from './load/worker-pool';
import {
  LOCAL_SERVERS,
  launchParley,
  type Mode,
  RAISED_LIMITS,
  type RunningParley,
  type Topology,
} from './parley/launch';
import { pidsByName, ProcSampler } from './proc-stats';
import { type RunInfo, writeReport } from './report/summary';
import { runBaseline } from './scenarios/baseline';
import type { ScenarioContext, ScenarioResult, Sizes } from './scenarios/context';
import { runFanout } from './scenarios/fanout';
import { runIdle } from './scenarios/idle';
import { runMax } from './scenarios/max';
import { runPairs } from './scenarios/pairs';
import { runStartup } from './scenarios/startup';
import { runStorm } from './scenarios/storm';
import { Population } from './setup/population';
import { type Bench, disconnectAll } from './traffic';

// Run order: the fan-out leaves a long notification backlog (one per member per message) that would
// compete with the connection-heavy scenarios, so those run before it.
export const SCENARIOS = ['pairs', 'max', 'idle', 'storm', 'baseline', 'fanout', 'startup'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: ScenarioName[];
  mode: Mode;
  topology: Topology;
  sizes: Sizes;
  quick: boolean;
  /** Results folder (created). */
  outDir: string;
  /** Shown in the summary: how this run was started. */
  command: string;
  /** Time budget of the whole run in minutes: past it, no new scenario or step starts. */
  budgetMin?: number;
  log?: (line: string) => void;
}

export interface BenchRun {
  outDir: string;
  results: ScenarioResult[];
  failures: Record<string, string>;
}

type Runner = (ctx: ScenarioContext) => Promise<ScenarioResult>;
const RUNNERS: Record<Exclude<ScenarioName, 'startup'>, Runner> = {
  pairs: runPairs,
  max: runMax,
  baseline: runBaseline,
  fanout: runFanout,
  idle: runIdle,
  storm: runStorm,
};

function usersNeeded(o: BenchOptions): { users: number; pairs: number } {
  const s = o.sizes;
  const wantsPairs = o.scenarios.some((n) => ['pairs', 'max', 'baseline', 'storm'].includes(n));
  const wantsGroup = o.scenarios.some((n) => ['fanout', 'baseline', 'idle'].includes(n));
  return {
    users: Math.max(wantsPairs ? 2 * s.pairs : 0, wantsGroup ? s.fanoutMembers : 0),
    pairs: wantsPairs ? s.pairs : 0,
  };
}

/**
 * Between scenarios: let Parley finish what the previous one left (event
 * consumers drained, the gateway answering promptly), so one overloaded
 * scenario does not spill into the next. Bounded; what it saw is logged.
 */
async function settle(parley: RunningParley, lag: ConsumerLag | null, say: (line: string) => void): Promise<void> {
  const started = Date.now();
  const limit = 60_000;
  if (lag) {
    const drained = await lag.drain(limit);
    if (drained.ms < 0) say('settle: event consumers still behind after 60 s');
  }
  for (;;) {
    const t = Date.now();
    const ok = await fetch(`${parley.url}/readyz`, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok && Date.now() - t < 200) break;
    if (Date.now() - started > limit) {
      say('settle: the gateway is still slow to answer after 60 s');
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const ms = Date.now() - started;
  if (ms > 2000) say(`settle: waited ${Math.round(ms / 1000)} s for Parley to catch up`);
}

export async function runBench(o: BenchOptions): Promise<BenchRun> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const t0 = Date.now();
  const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s]`;
  const say = (line: string) => log(`${stamp()} ${line}`);
  mkdirSync(join(o.outDir, 'logs'), { recursive: true });
  const results: ScenarioResult[] = [];
  const failures: Record<string, string> = {};
  const setup: Record<string, number> = {};
  const startedAt = new Date().toISOString();
  const loadAvg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const loadAtStart = loadAvg();
  const sampler = new ProcSampler();
  let pool: WorkerPool | null = null;
  let parley: RunningParley | null = null;
  let lag: ConsumerLag | null = null;

  const stopAll = async () => {
    sampler.stop();
    await lag?.close().catch(() => {});
    lag = null;
    if (parley) {
      say('stopping Parley');
      await parley.stop().catch((err) => say(`stopping Parley failed: ${(err as Error).message}`));
      parley = null;
    }
    await pool?.stop().catch(() => {});
    pool = null;
  };
  const onSignal = () => {
    say('interrupted: stopping what the bench started');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const inParley = o.scenarios.filter((s): s is Exclude<ScenarioName, 'startup'> => s !== 'startup');
  try {
    if (inParley.length > 0) {
      say(`starting Parley (${o.mode}, ${o.topology}) and ${o.sizes.workers} load generators`);
      [pool, parley] = await Promise.all([
        WorkerPool.start(o.sizes.workers),
        launchParley({ mode: o.mode, topology: o.topology, logDir: join(o.outDir, 'logs') }),
      ]);
      const running = parley;
      const workers = pool;
      say(`Parley ready at ${running.url} in ${running.startMs} ms`);
      setup.parleyStart = running.startMs;
      for (const p of running.processes) sampler.track({ name: `parley:${p.name}`, pids: () => [p.pid] });
      for (const [i, pid] of workers.pids.entries()) sampler.track({ name: `loadgen:${i}`, pids: () => [pid] });
      sampler.track({ name: 'bench-coordinator', pids: () => [process.pid] });
      if (o.mode === 'connected') {
        for (const comm of ['postgres', 'nats-server', 'redis-server'])
          sampler.track({ name: comm, pids: () => pidsByName(comm) });
        if (running.busPrefix) lag = await ConsumerLag.open(LOCAL_SERVERS.nats, running.busPrefix);
      }
      sampler.start();

      const population = new Population(running.url);
      const need = usersNeeded(o);
      say(`registering ${need.users} users`);
      setup.registerUsers = await population.ensureUsers(need.users);
      const pairsStart = Date.now();
      if (need.pairs > 0) await population.ensurePairs(need.pairs);
      setup.createPairs = Date.now() - pairsStart;

      let phase = 0;
      let clientIdx = 0;
      const bench: Bench = { pool: workers, sampler, placement: new Map(), nextPhase: () => ++phase, log: say };
      const ctx: ScenarioContext = {
        bench,
        parley: running,
        population,
        sizes: o.sizes,
        lag,
        results: new Map(),
        newClientIdx: () => clientIdx++,
        // Steps stop a little before the budget, leaving time for the rest.
        deadline: t0 + (o.budgetMin ?? 14) * 60_000 - 3 * 60_000,
      };
      let first = true;
      for (const name of inParley) {
        if (!first) await settle(running, lag, say);
        first = false;
        if (Date.now() > t0 + (o.budgetMin ?? 14) * 60_000) {
          failures[name] = `skipped: the run's ${o.budgetMin ?? 14} minute budget was spent`;
          say(failures[name]);
          continue;
        }
        say(`scenario ${name}`);
        try {
          const r = await RUNNERS[name](ctx);
          results.push(r);
          ctx.results.set(name, r);
          writeFileSync(join(o.outDir, `${name}.json`), JSON.stringify(r, null, 2));
          for (const t of r.targets) say(`  ${t.met === null ? '-' : t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.value}`);
        } catch (err) {
          failures[name] = (err as Error).stack ?? String(err);
          say(`scenario ${name} failed: ${(err as Error).message}`);
          await disconnectAll(bench).catch(() => {});
        }
      }
    }
  } finally {
    await stopAll();
  }
  if (o.scenarios.includes('startup')) {
    say('scenario startup (standalone start command)');
    try {
      const r = await runStartup(join(o.outDir, 'logs'));
      results.push(r);
      writeFileSync(join(o.outDir, 'startup.json'), JSON.stringify(r, null, 2));
      for (const t of r.targets) say(`  ${t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.value}`);
    } catch (err) {
      failures.startup = (err as Error).stack ?? String(err);
      say(`scenario startup failed: ${(err as Error).message}`);
    }
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  const info: RunInfo = {
    startedAt,
    finishedAt: new Date().toISOString(),
    command: o.command,
    mode: o.mode,
    topology: o.mode === 'standalone' ? 'single' : o.topology,
    quick: o.quick,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      os: `Linux ${release()}`,
      node: process.versions.node,
    },
    raisedLimits: RAISED_LIMITS,
    sizes: o.sizes as unknown as Record<string, unknown>,
    parleyStartMs: setup.parleyStart ?? 0,
    loadAverage: { start: loadAtStart, end: loadAvg() },
    setup,
    failures,
  };
  writeFileSync(join(o.outDir, 'run.json'), JSON.stringify({ ...info, failures }, null, 2));
  writeReport(o.outDir, info, results);
  say(`done in ${Math.round((Date.now() - t0) / 1000)} s: ${join(o.outDir, 'summary.md')}`);
  return { outDir: o.outDir, results, failures };
}
