/**
 * `fanout`: one group of N connected members; one member sends at a fixed
 * rate and every other member must receive each message (deliveries/s and
 * per-delivery latency). Then the message rate is stepped up to find the
 * highest deliveries/s sustained with nothing lost and p99 <= 100 ms, on
 * Parley and on the bare-ws ceiling server, with the same clients spread
 * over the same load generators.
 */
import { startBareWs } from '../baseline/bare-ws';
import type { ClientSpec, ExpectedSenders, Target as WsTarget } from '../load/protocol';
import { type ConnectSummary, connectClients, disconnectAll, phasePasses, reportable, runPhase } from '../traffic';
import { clientFor, type ScenarioContext } from './context';
import { strip } from './pairs';

const STEP_P99_MS = 100;

export interface FanoutMeasurement {
  target: WsTarget;
  members: number;
  connect: Omit<ConnectSummary, 'failedIdx'>;
  fixed: ReturnType<typeof strip>;
  steps: (ReturnType<typeof strip> & { passed: boolean })[];
  /** Highest deliveries/s of a passing step. */
  ceilingDeliveriesPerSec: number;
}

export async function measureFanout(ctx: ScenarioContext, target: WsTarget, wsUrl: string): Promise<FanoutMeasurement> {
  const { sizes, population, bench } = ctx;
  const group = await population.ensureGroup(sizes.fanoutMembers);
  await population.refreshTokens();
  const clients: ClientSpec[] = group.members.map((u) => clientFor(ctx, u, [group.conversationId]));
  const sender = clients[0]!;
  const expect: ExpectedSenders = { [group.conversationId]: [sender.idx] };
  try {
    const connect = await connectClients(bench, target, wsUrl, clients, { ratePerSec: sizes.connectRate });
    // A few refused connections are reported, not fatal: the members that are connected are measured.
    if (connect.opened < clients.length * 0.95 || !bench.placement.has(sender.idx)) {
      throw new Error(
        `fanout (${target}): ${connect.opened}/${clients.length} connected ${JSON.stringify(connect.errors)}`,
      );
    }
    const phase = (rate: number, durationMs: number) =>
      runPhase(bench, {
        targetRate: rate,
        durationMs,
        senders: [{ idx: sender.idx, conversationId: group.conversationId, ratePerSec: rate }],
        expect,
        drainMs: 5000,
      });
    bench.log(`fanout (${target}): ${clients.length} members, ${sizes.fanoutRate} msg/s`);
    await phase(sizes.fanoutRate, Math.min(2000, sizes.warmupMs));
    const fixed = await phase(sizes.fanoutRate, sizes.fanoutDurationMs);
    const steps: FanoutMeasurement['steps'] = [];
    let ceiling = 0;
    for (const rate of sizes.fanoutStepRates) {
      if (Date.now() > ctx.deadline) break;
      bench.log(`fanout (${target}): step ${rate} msg/s = ${rate * (clients.length - 1)} deliveries/s`);
      const r = await phase(rate, sizes.fanoutStepMs);
      const passed = phasePasses(r, STEP_P99_MS);
      steps.push({ ...strip(r), passed });
      if (!passed) break;
      ceiling = Math.max(ceiling, r.deliveriesPerSec);
    }
    return {
      target,
      members: clients.length,
      connect: reportable(connect),
      fixed: strip(fixed),
      steps,
      ceilingDeliveriesPerSec: ceiling,
    };
  } finally {
    await disconnectAll(bench);
  }
}

/** The bare-ws ceiling of the fan-out, from the baseline scenario of this run or measured now. */
export async function bareFanout(ctx: ScenarioContext): Promise<FanoutMeasurement> {
  const earlier = ctx.results.get('baseline')?.fanout as FanoutMeasurement | undefined;
  if (earlier) return earlier;
  const bare = await startBareWs();
  ctx.bench.sampler.track({ name: 'bare-ws', pids: () => [bare.pid] });
  try {
    return await measureFanout(ctx, 'bare', bare.url);
  } finally {
    ctx.bench.sampler.untrack('bare-ws');
    await bare.stop();
  }
}

export async function runFanout(ctx: ScenarioContext) {
  const started = Date.now();
  const parley = await measureFanout(ctx, 'parley', ctx.parley.wsUrl);
  const bare = await bareFanout(ctx);
  const ratio = bare.ceilingDeliveriesPerSec > 0 ? parley.ceilingDeliveriesPerSec / bare.ceilingDeliveriesPerSec : 0;
  const d = parley.fixed.latency.delivery;
  const lastBareStepPassed = bare.steps.at(-1)?.passed ?? false;
  return {
    scenario: 'fanout',
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    parley,
    bare,
    ratioToCeiling: Math.round(ratio * 1000) / 1000,
    targets: [
      {
        name: `fanout: >= 50% of the bare-ws ceiling's deliveries/s`,
        value: `${parley.ceilingDeliveriesPerSec} vs ${bare.ceilingDeliveriesPerSec} deliveries/s (${Math.round(ratio * 100)}%)${lastBareStepPassed ? '; the bare server passed every step, so its true ceiling is higher' : ''}`,
        met: ratio >= 0.5,
      },
      {
        name: `fanout: p99 <= 50 ms at ${ctx.sizes.fanoutRate} msg/s to ${parley.members} members`,
        value: `${d.p99} ms (p50 ${d.p50} ms), lost ${parley.fixed.lost}, ${parley.connect.opened}/${parley.members} connected`,
        met: d.p99 <= 50 && parley.fixed.lost === 0 && parley.connect.opened === parley.members,
      },
    ],
  };
}
