// Bundles the web client into dist/ (one JS file, the HTML shell and CSS).
import { buildWeb } from './src/build-web.mjs';

const out = await buildWeb();
console.log(`web client built into ${out}`);
