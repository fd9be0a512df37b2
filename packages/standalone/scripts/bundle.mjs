/**
 * The prebuilt standalone bundle: `src/main.ts` and every workspace package it
 * imports (the services, the kit, the contracts, the web package's asset
 * helper), compiled by esbuild into one ES module, `dist/main.mjs`, so
 * `pnpm start` does not compile TypeScript on the fly at each start.
 *
 * - Third-party packages stay external, loaded from node_modules as usual
 *   (native and WASM ones such as PGlite and @node-rs/argon2 included). The
 *   bundle imports each by the absolute path esbuild resolved it to, because
 *   pnpm's strict layout would not let `dist/` find a dependency of, say,
 *   service-kit by its bare name. The bundle is therefore a local build
 *   artefact tied to this checkout and this `node_modules`, never shipped.
 * - `import.meta.url` keeps meaning the source file it is written in (each
 *   workspace module sees its own `file://.../src/x.ts` URL), so paths built
 *   from it (migration folders, the web client's `dist/`, data files) still
 *   point where they do under tsx.
 * - `dist/main.meta.json` lists what the bundle was built from (every bundled
 *   source, each workspace package.json, the tsconfig, this script and
 *   pnpm's `node_modules/.modules.yaml`, which changes at every install);
 *   `isBundleFresh()` compares their modification times with the bundle's.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(packageRoot, '../..');
export const bundleFile = join(packageRoot, 'dist', 'main.mjs');
export const metaFile = join(packageRoot, 'dist', 'main.meta.json');
const entry = join(packageRoot, 'src', 'main.ts');
const scriptFile = fileURLToPath(import.meta.url);
/** Set by the bundle's first line: once it is, the bundle linked and runs (start.mjs no longer falls back). */
export const BUNDLE_RAN = '__parleyStartBundleRan';

/** Files outside node_modules whose change makes the bundle stale, besides the bundled sources. */
function alwaysWatched() {
  return [scriptFile, join(repoRoot, 'tsconfig.base.json'), join(repoRoot, 'node_modules', '.modules.yaml')];
}

/** True when the bundle exists and nothing it was built from changed since. */
export function isBundleFresh() {
  let meta;
  try {
    statSync(bundleFile);
    meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  } catch {
    return false;
  }
  if (meta.version !== 1 || typeof meta.sourcesReadAtMs !== 'number' || !Array.isArray(meta.inputs)) return false;
  for (const file of meta.inputs) {
    let mtime;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      return false;
    }
    // Compared with the time the build started reading, so an edit made during a build is not missed.
    if (mtime >= meta.sourcesReadAtMs) return false;
  }
  return true;
}

function isWorkspaceFile(path) {
  return !path.split(/[\\/]/).includes('node_modules');
}

/** Nearest package.json above a workspace source file. */
function packageJsonOf(file) {
  let dir = dirname(file);
  while (dir.startsWith(repoRoot)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** esbuild plugin: third-party imports external by absolute path; `import.meta.url` kept per source file. */
function standalonePlugin() {
  return {
    name: 'parley-standalone',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.path.startsWith('node:') || args.pluginData === 'resolving') return undefined;
        if (args.path.startsWith('@parley/')) return undefined; // workspace: bundled
        const res = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: 'resolving',
        });
        if (res.errors.length > 0) return { errors: res.errors };
        if (res.external || !isAbsolute(res.path)) return { path: args.path, external: true };
        return { path: pathToFileURL(res.path).href, external: true };
      });
      build.onLoad({ filter: /\.(m?ts|m?js)$/ }, (args) => {
        if (!isWorkspaceFile(args.path)) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const url = JSON.stringify(pathToFileURL(args.path).href);
        const ext = args.path.match(/\.(m?)(ts|js)$/);
        return { contents: source.replaceAll('import.meta.url', url), loader: ext?.[2] === 'ts' ? 'ts' : 'js' };
      });
    },
  };
}

/** Builds dist/main.mjs (written atomically) and its input list; resolves to the bundle's path. */
export async function buildBundle() {
  const { build } = await import('esbuild');
  const sourcesReadAtMs = Date.now();
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: repoRoot,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    outfile: bundleFile,
    sourcemap: 'linked',
    banner: { js: `globalThis.${BUNDLE_RAN} = true;` },
    sourcesContent: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [standalonePlugin()],
  });
  const sources = Object.keys(result.metafile.inputs)
    .map((p) => resolve(repoRoot, p))
    .filter((p) => isWorkspaceFile(p));
  const packageJsons = new Set(sources.map(packageJsonOf).filter(Boolean));
  const inputs = [...new Set([...sources, ...packageJsons, ...alwaysWatched()])].filter((p) => existsSync(p)).sort();

  mkdirSync(dirname(bundleFile), { recursive: true });
  const tmpSuffix = `.${process.pid}.tmp`;
  for (const file of result.outputFiles) writeFileSync(file.path + tmpSuffix, file.contents);
  for (const file of result.outputFiles) renameSync(file.path + tmpSuffix, file.path);
  const meta = { version: 1, sourcesReadAtMs, builtAt: new Date().toISOString(), inputs };
  writeFileSync(metaFile + tmpSuffix, `${JSON.stringify(meta, null, 1)}\n`);
  renameSync(metaFile + tmpSuffix, metaFile);
  return bundleFile;
}
