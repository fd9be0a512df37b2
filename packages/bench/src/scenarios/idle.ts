/**
 * `idle`: N authenticated connections held by one gateway process, opened
 * open-loop at a target rate; RSS per connection from the gateway's RSS
 * before and after (settled), and the opening rate achieved.
 */
import { sleep } from '../clock';
import type { ClientSpec } from '../load/protocol';
import { openFilesLimit, rssKb } from '../proc-stats';
import { connectClients, disconnectAll, reportable } from '../traffic';
import { clientFor, type ScenarioContext } from './context';

const SETTLE_MS = 5_000;
/** File descriptors the gateway needs besides the sockets (listeners, pools, NATS, Redis, logs). */
const FD_HEADROOM = 300;

export async function runIdle(ctx: ScenarioContext) {
  const { sizes, population, parley, bench } = ctx;
  const started = Date.now();
  const users = Math.max(2, sizes.fanoutMembers);
  await population.ensureUsers(users);
  await population.refreshTokens();
  const pool = population.users.slice(0, users);
  // One gateway process cannot hold more sockets than its open-files limit allows.
  const fdLimit = openFilesLimit(parley.gatewayPid);
  const count = fdLimit ? Math.min(sizes.idleConnections, fdLimit - FD_HEADROOM) : sizes.idleConnections;
  const capped = count < sizes.idleConnections;
  const clients: ClientSpec[] = Array.from({ length: count }, (_, i) => clientFor(ctx, pool[i % pool.length]!, []));
  const pid = parley.gatewayPid;
  await sleep(1000);
  const before = rssKb(pid);
  const mark = bench.sampler.mark();
  try {
    bench.log(`idle: opening ${clients.length} connections at ${sizes.idleOpenRate}/s (${users} users)`);
    const connect = await connectClients(bench, 'parley', parley.wsUrl, clients, {
      ratePerSec: sizes.idleOpenRate,
      timeoutMs: 30_000,
    });
    await sleep(SETTLE_MS);
    const after = rssKb(pid);
    const stillOpen = (await bench.pool.stats()).reduce((a, s) => a + s.open, 0);
    const usage = bench.sampler.window(mark);
    const perConnKiB = connect.opened > 0 ? Math.round(((after - before) / connect.opened) * 100) / 100 : 0;
    return {
      scenario: 'idle',
      startedAt: new Date(started).toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
      users,
      requested: sizes.idleConnections,
      gatewayOpenFilesLimit: fdLimit,
      cappedByOpenFilesLimit: capped,
      connect: reportable(connect),
      stillOpenAfterSettle: stillOpen,
      gatewayProcess: parley.topology === 'split' ? 'gateway' : 'parley (all services in one process)',
      gatewayRssBeforeMiB: Math.round(before / 102.4) / 10,
      gatewayRssAfterMiB: Math.round(after / 102.4) / 10,
      rssPerConnectionKiB: perConnKiB,
      usage,
      targets: [
        {
          name: `idle: ${sizes.idleConnections} authenticated connections on one gateway process`,
          value: `${connect.opened} opened, ${connect.failed} failed, ${stillOpen} still open after ${SETTLE_MS / 1000} s${capped ? ` (capped: the process may open at most ${fdLimit} files, a hard limit on this machine)` : ''}`,
          met: connect.opened === sizes.idleConnections && stillOpen === sizes.idleConnections,
          ...(capped ? { note: `open-files limit ${fdLimit} of the gateway process` } : {}),
        },
        {
          name: 'idle: <= 10 KiB RSS per connection',
          value: `${perConnKiB} KiB${connect.opened < count ? ` (over only ${connect.opened} connections: not meaningful)` : ''}`,
          met: connect.opened === count && perConnKiB <= 10,
        },
        {
          name: 'idle: opened at >= 1000 connections/s',
          value: `${connect.achievedPerSec}/s (target pace ${sizes.idleOpenRate}/s)`,
          met: connect.achievedPerSec >= 1000,
        },
      ],
    };
  } finally {
    await disconnectAll(bench);
  }
}
