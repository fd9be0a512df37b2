// Builds the start bundle (dist/main.mjs) that `pnpm start` runs; see bundle.mjs.
import { buildBundle } from './bundle.mjs';

const t0 = Date.now();
const file = await buildBundle();
console.log(`standalone bundle built into ${file} in ${Date.now() - t0} ms`);
