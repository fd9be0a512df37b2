/**
 * Child-process entry: Parley in one process (`startParley`), so that the
 * bench measures its CPU and memory apart from the load generator. Reports
 * `{ url }` over IPC once the gateway listens; closes on `exit` or SIGTERM.
 */
import pino from 'pino';
import { startParley } from '@parley/standalone';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn', name: 'parley' });
const parley = await startParley({ logger, buildWeb: false });
process.send?.({ url: parley.url, mode: parley.mode });

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  try {
    await parley.close();
  } finally {
    process.exit(0);
  }
}
process.on('message', (m: { cmd?: string }) => {
  if (m.cmd === 'exit') void shutdown();
});
process.on('SIGTERM', () => void shutdown());
process.on('disconnect', () => void shutdown());
