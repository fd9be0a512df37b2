import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds the client into `dist/` and returns that directory. */
export async function buildWeb({ outDir = join(root, 'dist'), minify = true } = {}) {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(root, 'src/main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify,
    sourcemap: true,
    outfile: join(outDir, 'app.js'),
    logLevel: 'warning',
  });
  await copyFile(join(root, 'public/index.html'), join(outDir, 'index.html'));
  await copyFile(join(root, 'public/styles.css'), join(outDir, 'styles.css'));
  return outDir;
}
