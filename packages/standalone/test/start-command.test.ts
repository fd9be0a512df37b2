/**
 * `pnpm start`'s own script (scripts/start.mjs): it runs the standalone from
 * the prebuilt bundle (built when missing or stale), which answers like the
 * TypeScript sources do, and stops cleanly on SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBundle, isBundleFresh } from '../scripts/bundle.mjs';
import { TEST_LIMITS } from './support/parley';

const bundleScript = fileURLToPath(new URL('../scripts/bundle.mjs', import.meta.url));
const startScript = fileURLToPath(new URL('../scripts/start.mjs', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'parley-e2e-start-'));
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child?.pid !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('pnpm start (scripts/start.mjs)', () => {
  it('builds a bundle that is fresh until its sources change', async () => {
    await buildBundle();
    expect(isBundleFresh()).toBe(true);
    // An edit to anything it was built from (here the build script itself) makes it stale.
    await new Promise((r) => setTimeout(r, 5));
    const now = new Date();
    utimesSync(bundleScript, now, now);
    expect(isBundleFresh()).toBe(false);
    // The rebuild must start after the edit's millisecond (a build that starts
    // in the same millisecond as an edit counts it as possibly unread: stale).
    await new Promise((r) => setTimeout(r, 5));
    await buildBundle();
    expect(isBundleFresh()).toBe(true);
  });

  it('serves from the bundle and stops on SIGTERM', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...TEST_LIMITS,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    };
    for (const k of ['DATABASE_URL', 'NATS_URL', 'REDIS_URL', 'PARLEY_START']) delete env[k];
    child = spawn(process.execPath, [startScript], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d) => {
      output += String(d);
    });
    child.stderr?.on('data', (d) => {
      output += String(d);
    });
    const url = await new Promise<string>((resolve, reject) => {
      const onData = () => {
        const m = output.match(/Web client: (http:\/\/\S+?)\/\s/);
        if (m) resolve(m[1]!);
      };
      child?.stdout?.on('data', onData);
      child?.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
    });
    expect(output).not.toMatch(/compiling on the fly with tsx/);
    const ready = await fetch(`${url.replace('localhost', '127.0.0.1')}/readyz`);
    expect(ready.status).toBe(200);

    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});
