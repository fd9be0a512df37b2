/**
 * `pnpm start`: Parley in one process. Prints where the web client and the
 * API docs are; `--seed` (or SEED=true) also creates demo users and rooms.
 * `pnpm start` runs it through scripts/start.mjs, from the prebuilt bundle
 * dist/main.mjs (rebuilt when stale) rather than compiling it with tsx.
 */
import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import { seedDemo } from './seed';
import { startParley } from './standalone';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', name: 'parley' });
const parley = await startParley({ logger });
// Since the process started: loading the code (bundle or tsx) counts too.
const ms = Math.round(performance.now());
logger.debug({ ms, ...parley.startup }, 'start-up phases (ms after startParley was called)');

const lines = [
  '',
  `  Parley is running (${parley.mode === 'embedded' ? 'standalone, embedded infrastructure' : 'connected to real servers'}, ready in ${ms} ms)`,
  '',
  `  Web client: ${parley.url}/`,
  `  API docs:   ${parley.url}/docs`,
  `  WebSocket:  ${parley.url.replace(/^http/, 'ws')}/v1/ws`,
  '',
];
process.stdout.write(`${lines.join('\n')}\n`);

if (process.argv.includes('--seed') || process.env.SEED === 'true') {
  const accounts = await seedDemo(parley.url);
  process.stdout.write(`  Demo logins (password: ${accounts.password}):\n`);
  for (const a of accounts.users) process.stdout.write(`    ${a.email}  (${a.name})\n`);
  process.stdout.write('\n');
}

closeWithGrace({ delay: 20_000 }, async ({ err, signal }) => {
  if (err) logger.error({ err }, 'shutting down after an error');
  else logger.info({ signal }, 'shutting down');
  await parley.close();
});
