/**
 * How long `pnpm start` (embedded mode) takes to be ready, measured the way a
 * user meets it: a new Node process each time (tsx, imports, PGlite, every
 * service, the gateway listening). Cold = a fresh DATA_DIR (PGlite runs
 * initdb, every migration applies); warm = the same DATA_DIR again.
 * CPU time is reported beside wall time because on a shared machine the wall
 * time mostly measures the neighbours.
 *
 *   pnpm exec tsx packages/standalone/test/support/measure-startup.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Sample {
  /** Process start to the gateway listening. */
  readyMs: number;
  /** Of which inside startParley (after the imports). */
  startParleyMs: number;
  /** CPU time of the process until ready (user + system). */
  cpuMs: number;
}

async function child(dataDir: string): Promise<void> {
  const importStart = performance.now();
  const { startParley } = await import('../../src/standalone');
  const { default: pino } = await import('pino');
  const started = performance.now();
  const parley = await startParley({
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir },
    logger: pino({ level: 'silent' }),
    buildWeb: false,
  });
  const ready = performance.now();
  const cpu = process.cpuUsage();
  const sample: Sample & { importMs: number } = {
    readyMs: Math.round(ready),
    startParleyMs: Math.round(ready - started),
    importMs: Math.round(started - importStart),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
  await parley.close();
}

function measure(dataDir: string): Sample {
  const res = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', dataDir], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent' },
  });
  const line = res.stdout.split('\n').find((l) => l.startsWith('{"readyMs"'));
  if (!line) throw new Error(`no measurement:\n${res.stdout}\n${res.stderr}`);
  return JSON.parse(line) as Sample;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!);
} else {
  const runs = Number(process.argv[2] ?? 3);
  const cold: Sample[] = [];
  const warm: Sample[] = [];
  const loadBefore = loadavg()[0]!;
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'parley-startup-'));
    try {
      cold.push(measure(dir));
      warm.push(measure(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const summary = (xs: Sample[]) => ({
    readyMsMedian: median(xs.map((x) => x.readyMs)),
    startParleyMsMedian: median(xs.map((x) => x.startParleyMs)),
    cpuMsMedian: median(xs.map((x) => x.cpuMs)),
    samples: xs,
  });
  process.stdout.write(
    `${JSON.stringify({ runs, loadAverage: [loadBefore, loadavg()[0]], cold: summary(cold), warm: summary(warm) }, null, 2)}\n`,
  );
}
