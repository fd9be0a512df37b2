/**
 * `storm`: N clients (spread over the pairs' users) connected and caught up;
 * all drop at once; messages are sent into every conversation meanwhile;
 * then all reconnect at once and `resume` from their last `rev`. Measured:
 * the time until the last client has every missed message, and whether any
 * client lost (or got twice) anything.
 */
import { nowMs } from '../clock';
import { mergeEncoded, summarize } from '../histogram';
import type { ClientSpec, ExpectedSenders, ResumeResult, ResumeSpec } from '../load/protocol';
import { BitSet } from '../load/protocol';
import { connectClients, disconnectAll, reportable, runPhase } from '../traffic';
import { clientFor, type ScenarioContext } from './context';
import { strip } from './pairs';

export async function runStorm(ctx: ScenarioContext) {
  const { sizes, population, parley, bench } = ctx;
  const started = Date.now();
  await population.ensurePairs(sizes.pairs);
  await population.refreshTokens();
  const pairs = population.pairs.slice(0, sizes.pairs);
  // One driver per conversation keeps sending while the storm clients are away.
  const drivers = pairs.map((p) => clientFor(ctx, p.a, [p.conversationId]));
  let storm: ClientSpec[] = Array.from({ length: sizes.stormClients }, (_, j) => {
    const p = pairs[Math.floor(j / 2) % pairs.length]!;
    return clientFor(ctx, j % 2 === 0 ? p.b : p.a, [p.conversationId]);
  });
  const expect: ExpectedSenders = {};
  drivers.forEach((d, i) => {
    expect[pairs[i]!.conversationId] = [d.idx];
  });
  const senders = (perDriver: number) =>
    drivers.map((d, i) => ({ idx: d.idx, conversationId: pairs[i]!.conversationId, ratePerSec: perDriver }));
  try {
    const driverConnect = await connectClients(bench, 'parley', parley.wsUrl, drivers, {
      ratePerSec: sizes.connectRate,
    });
    bench.log(`storm: connecting ${storm.length} clients`);
    const connect = await connectClients(bench, 'parley', parley.wsUrl, storm, {
      ratePerSec: sizes.idleOpenRate,
      timeoutMs: 30_000,
    });
    // Every driver must be there; of the storm clients, those that connected take part (the rest are reported).
    if (driverConnect.opened < drivers.length || connect.opened < storm.length * 0.8) {
      throw new Error(
        `storm: too few clients connected ${JSON.stringify({ ...connect.errors, ...driverConnect.errors })}`,
      );
    }
    const refused = new Set(connect.failedIdx);
    storm = storm.filter((c) => !refused.has(c.idx)); // Everyone sees one message per conversation: their resume cursor.
    const prime = await runPhase(bench, { targetRate: drivers.length, durationMs: 1000, senders: senders(1), expect });
    if (prime.lost > 0) throw new Error(`storm: ${prime.lost} priming deliveries lost`);

    bench.log('storm: all clients drop; messages sent meanwhile');
    await bench.pool.all({ cmd: 'disconnect', clients: storm.map((c) => c.idx), forget: false });
    const missed = await runPhase(bench, {
      targetRate: drivers.length * sizes.stormMissed,
      durationMs: 1000,
      senders: senders(sizes.stormMissed),
      expect: {},
      drainMs: 5000,
    });
    const ackedPerConv = new Map<string, number>();
    drivers.forEach((d, i) => {
      const bits = missed.ackedBits?.[d.idx];
      ackedPerConv.set(pairs[i]!.conversationId, bits ? BitSet.of(bits).count() : 0);
    });

    bench.log(`storm: ${storm.length} clients reconnect at once and resume`);
    const perWorker: ResumeSpec[][] = bench.pool.workers.map(() => []);
    for (const c of storm) {
      const conv = c.conversations[0]!;
      perWorker[bench.placement.get(c.idx)!]!.push({ ...c, expectCount: { [conv]: ackedPerConv.get(conv) ?? 0 } });
    }
    const mark = bench.sampler.mark();
    const t0 = nowMs();
    const results = (
      await bench.pool.each<ResumeResult>((w) =>
        perWorker[w]!.length === 0
          ? null
          : {
              cmd: 'resume',
              target: 'parley',
              wsUrl: parley.wsUrl,
              clients: perWorker[w]!,
              phase: missed.phase,
              timeoutMs: 30_000,
            },
      )
    ).filter((r): r is ResumeResult => r !== null);
    const usage = bench.sampler.window(mark);
    const caughtUp = results.reduce((a, r) => a + r.caughtUp, 0);
    const lastAt = Math.max(...results.map((r) => r.lastCaughtUpAt));
    const allCaughtUpS = caughtUp === storm.length ? Math.round((lastAt - t0) / 10) / 100 : null;
    const missing = results.reduce((a, r) => a + r.missing, 0);
    const duplicates = results.reduce((a, r) => a + r.duplicates, 0);
    const errors: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    return {
      scenario: 'storm',
      startedAt: new Date(started).toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
      clients: storm.length,
      conversations: pairs.length,
      connect: reportable(connect),
      prime: strip(prime),
      missedMessages: [...ackedPerConv.values()].reduce((a, b) => a + b, 0),
      missedSend: strip(missed),
      reconnected: results.reduce((a, r) => a + r.reconnected, 0),
      reconnectFailures: errors,
      caughtUp,
      allCaughtUpSeconds: allCaughtUpS,
      catchUp: summarize(mergeEncoded(results.map((r) => r.catchUpHist))),
      missing,
      duplicates,
      resyncs: results.reduce((a, r) => a + r.resyncs, 0),
      usage,
      targets: [
        {
          name: `storm: ${sizes.stormClients} clients back and caught up within 5 s (${storm.length} connected at first)`,
          value: allCaughtUpS === null ? `${caughtUp}/${storm.length} caught up within 30 s` : `${allCaughtUpS} s`,
          met: allCaughtUpS !== null && allCaughtUpS <= 5 && storm.length === sizes.stormClients,
        },
        {
          name: 'storm: nothing lost, nothing twice',
          value: `${missing} missing, ${duplicates} duplicates`,
          met: missing === 0 && duplicates === 0 && caughtUp === storm.length,
        },
      ],
    };
  } finally {
    await disconnectAll(bench);
  }
}
