/**
 * `startup`: how long the standalone start command (`pnpm start`, embedded
 * infrastructure, fresh data directory) takes until the gateway answers
 * `/readyz`; then once more on the same data directory (a restart).
 * The command runs in its own process group, stopped by that group's PID.
 * `pnpm start` builds its bundle first when sources changed since it was
 * last built (see packages/standalone/README.md); the result says whether
 * a run included that build.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../clock';
import { freePort } from '../parley/launch';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

async function timeStart(
  dataDir: string,
  logFile: string,
): Promise<{ readyMs: number | null; bundleBuilt: boolean; error?: string }> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  for (const k of ['DATABASE_URL', 'NATS_URL', 'REDIS_URL']) delete env[k];
  const log = createWriteStream(logFile, { flags: 'a' });
  const started = Date.now();
  const child = spawn('pnpm', ['start'], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  // start.mjs says so when it had to (re)build its bundle first (sources changed since the last start).
  let bundleBuilt = false;
  child.stderr?.on('data', (d) => {
    if (String(d).includes('built the start bundle')) bundleBuilt = true;
  });
  let readyMs: number | null = null;
  let error: string | undefined;
  try {
    while (Date.now() - started < 60_000) {
      if (child.exitCode !== null) {
        error = `exited with ${child.exitCode}`;
        break;
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.ok) {
          readyMs = Date.now() - started;
          break;
        }
      } catch {
        // not yet
      }
      await sleep(25);
    }
  } finally {
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // The whole group we created (pnpm, tsx, node), by its PID.
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 20_000);
      await exited;
      // pnpm may exit before its children: give the group a moment, then make sure.
      await sleep(500);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // group gone
      }
      clearTimeout(timer);
    }
    log.end();
  }
  return { readyMs, bundleBuilt, ...(error ? { error } : {}) };
}

export async function runStartup(logDir: string) {
  const started = Date.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-standalone-'));
  try {
    const fresh = await timeStart(dataDir, join(logDir, 'standalone-start.log'));
    const restart = await timeStart(dataDir, join(logDir, 'standalone-start.log'));
    return {
      scenario: 'startup',
      startedAt: new Date(started).toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
      command: 'pnpm start (PORT, DATA_DIR set; DATABASE_URL, NATS_URL, REDIS_URL unset)',
      freshDataDirMs: fresh.readyMs,
      restartMs: restart.readyMs,
      bundleBuilt: { fresh: fresh.bundleBuilt, restart: restart.bundleBuilt },
      errors: [fresh.error, restart.error].filter(Boolean),
      targets: [
        {
          name: 'standalone ready within 5 s of the start command',
          value: `${fresh.readyMs ?? 'not ready'} ms fresh${fresh.bundleBuilt ? ' (bundle rebuilt first)' : ''}, ${restart.readyMs ?? 'not ready'} ms restart${restart.bundleBuilt ? ' (bundle rebuilt first)' : ''}`,
          met: fresh.readyMs !== null && fresh.readyMs <= 5000,
        },
      ],
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
