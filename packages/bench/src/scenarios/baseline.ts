/**
 * `baseline`: the bare-ws broadcast server (no auth, storage or bus) driven
 * by the same load generators and client layout as `pairs` and `fanout`:
 * the ceiling of this machine, measured in the same run.
 */
import { startBareWs } from '../baseline/bare-ws';
import { disconnectAll } from '../traffic';
import type { ScenarioContext } from './context';
import { measureFanout } from './fanout';
import { connectPairs, pairsAt, strip } from './pairs';

export async function runBaseline(ctx: ScenarioContext) {
  const started = Date.now();
  const bare = await startBareWs();
  ctx.bench.sampler.track({ name: 'bare-ws', pids: () => [bare.pid] });
  try {
    const pc = await connectPairs(ctx, 'bare', bare.url);
    let pairs: ReturnType<typeof strip>;
    try {
      ctx.bench.log(`baseline: bare-ws pairs at ${ctx.sizes.pairsRate} msg/s`);
      await pairsAt(ctx, pc, ctx.sizes.pairsRate, ctx.sizes.warmupMs);
      pairs = strip(await pairsAt(ctx, pc, ctx.sizes.pairsRate, ctx.sizes.pairsDurationMs));
    } finally {
      await disconnectAll(ctx.bench);
    }
    const fanout = await measureFanout(ctx, 'bare', bare.url);
    return {
      scenario: 'baseline',
      startedAt: new Date(started).toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
      pairs,
      fanout,
      targets: [],
    };
  } finally {
    ctx.bench.sampler.untrack('bare-ws');
    await bare.stop();
  }
}
