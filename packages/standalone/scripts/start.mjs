/**
 * `pnpm start`: runs the standalone (`src/main.ts`) from its prebuilt bundle,
 * `dist/main.mjs`, building it first when it is missing or older than any of
 * its sources (about a second, once after a pull or an edit). When the bundle
 * cannot be built or loaded it falls back to compiling on the fly with tsx,
 * the way it always ran; `PARLEY_START=tsx` asks for that explicitly.
 * Arguments (`--seed`) and the environment reach main.ts unchanged: it runs
 * in this process.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';

const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function note(msg) {
  process.stderr.write(`parley: ${msg}\n`);
}

async function runWithTsx() {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(mainTs).href);
}

async function runBundle() {
  const { BUNDLE_RAN, buildBundle, bundleFile, isBundleFresh } = await import('./bundle.mjs');
  if (!isBundleFresh()) {
    const t0 = Date.now();
    try {
      await buildBundle();
    } catch (err) {
      note(`could not build the start bundle (${err?.message ?? err}); compiling on the fly with tsx instead`);
      return false;
    }
    note(`built the start bundle in ${Date.now() - t0} ms (${bundleFile})`);
  }
  // Source positions in stack traces point at the TypeScript sources.
  process.setSourceMapsEnabled(true);
  try {
    await import(pathToFileURL(bundleFile).href);
  } catch (err) {
    // Only a bundle that failed to load or link (none of its code ran yet) falls back.
    if (globalThis[BUNDLE_RAN]) throw err;
    note(`could not load the start bundle (${err.message}); compiling on the fly with tsx instead`);
    return false;
  }
  return true;
}

if (process.env.PARLEY_START === 'tsx' || !(await runBundle())) await runWithTsx();
