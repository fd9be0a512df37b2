/**
 * Where the built web client lives, for the gateway to serve at `/`.
 * `ensureWebBuilt()` builds it when `dist/` is missing or older than any of
 * its sources (this package, the SDK and the contracts it bundles), so a
 * start after a pull or an edit never serves a stale client.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const webRoot = join(packageRoot, 'dist');
const OUTPUTS = ['app.js', 'index.html', 'styles.css'];

export async function ensureWebBuilt(force = false): Promise<string> {
  if (!force && isFresh()) return webRoot;
  const { buildWeb } = await import('./build-web.mjs');
  return buildWeb({ outDir: webRoot });
}

/** True when every output exists and none is older than the newest source file. */
function isFresh(): boolean {
  let oldestOutput = Number.POSITIVE_INFINITY;
  for (const name of OUTPUTS) {
    const path = join(webRoot, name);
    if (!existsSync(path)) return false;
    oldestOutput = Math.min(oldestOutput, statSync(path).mtimeMs);
  }
  return sourceDirs().every((dir) => newestMtime(dir) <= oldestOutput);
}

function sourceDirs(): string[] {
  const require = createRequire(import.meta.url);
  const dirs = [join(packageRoot, 'src'), join(packageRoot, 'public')];
  for (const dep of ['@parley/sdk', '@parley/contracts']) {
    try {
      dirs.push(dirname(require.resolve(dep)));
    } catch {
      // Not resolvable from here (unusual layout): the build itself will say so.
    }
  }
  return dirs;
}

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}
