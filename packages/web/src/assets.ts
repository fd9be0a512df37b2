/**
 * Where the built web client lives, for the gateway to serve at `/`.
 * `ensureWebBuilt()` builds it when `dist/` is missing (first start, tests).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const webRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

export async function ensureWebBuilt(force = false): Promise<string> {
  if (!force && existsSync(join(webRoot, 'app.js')) && existsSync(join(webRoot, 'index.html'))) return webRoot;
  const { buildWeb } = await import('./build-web.mjs');
  return buildWeb({ outDir: webRoot });
}
