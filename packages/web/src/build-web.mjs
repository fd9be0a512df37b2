import { copyFile, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds the client into `outDir` (default `dist/`) and returns that directory.
 * It builds into a scratch directory beside it and moves each file into place
 * with a rename, so a server (or a second build started at the same moment by
 * another process) never sees a half-written file.
 */
export async function buildWeb({ outDir = join(root, 'dist'), minify = true } = {}) {
  await mkdir(outDir, { recursive: true });
  const scratch = await mkdtemp(join(dirname(outDir), '.web-build-'));
  try {
    await build({
      entryPoints: [join(root, 'src/main.ts')],
      bundle: true,
      format: 'esm',
      target: 'es2022',
      minify,
      sourcemap: true,
      outfile: join(scratch, 'app.js'),
      logLevel: 'warning',
    });
    await copyFile(join(root, 'public/index.html'), join(scratch, 'index.html'));
    await copyFile(join(root, 'public/styles.css'), join(scratch, 'styles.css'));
    // The page last, so it never references assets older than itself.
    const files = (await readdir(scratch)).sort((a, b) => Number(a === 'index.html') - Number(b === 'index.html'));
    for (const name of files) await rename(join(scratch, name), join(outDir, name));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return outDir;
}
