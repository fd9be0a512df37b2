/**
 * `max`: the pairs' aggregate rate stepped up until a step fails: p99 over
 * the bound, anything lost, refused or unanswered, a recipient not notified
 * of every message, or the event consumers (notifications, search index,
 * conversation activity) not caught up within a few seconds of the step.
 */
import type { ConsumerBacklog } from '../consumer-lag';
import { disconnectAll, phasePasses } from '../traffic';
import type { ScenarioContext } from './context';
import { connectPairs, pairsAt, strip } from './pairs';

const CONSUMER_CATCH_UP_MS = 5_000;

export async function runMax(ctx: ScenarioContext) {
  const { sizes, parley } = ctx;
  const started = Date.now();
  const pc = await connectPairs(ctx, 'parley', parley.wsUrl);
  const steps: Record<string, unknown>[] = [];
  let best = 0;
  let firstFailure: string | null = null;
  try {
    await pairsAt(ctx, pc, sizes.maxRates[0]!, sizes.warmupMs);
    for (const rate of sizes.maxRates) {
      if (Date.now() > ctx.deadline) {
        firstFailure = `not reached: the run's time budget was spent before the ${rate} msg/s step`;
        break;
      }
      ctx.bench.log(`max: step ${rate} msg/s`);
      const r = await pairsAt(ctx, pc, rate, sizes.maxStepMs, 3000);
      let consumers: { ms: number; initial: ConsumerBacklog[]; remaining: ConsumerBacklog[] } | null = null;
      if (ctx.lag) consumers = await ctx.lag.drain(CONSUMER_CATCH_UP_MS);
      const reasons: string[] = [];
      if (!phasePasses(r, sizes.maxP99Ms)) {
        if (r.latency.delivery.p99 > sizes.maxP99Ms) reasons.push(`p99 ${r.latency.delivery.p99} ms`);
        if (r.lost > 0) reasons.push(`${r.lost} lost`);
        if (r.unanswered > 0) reasons.push(`${r.unanswered} unanswered`);
        if (Object.keys(r.errors).length > 0) reasons.push(`errors ${JSON.stringify(r.errors)}`);
      }
      if (r.notifications < r.acked) reasons.push(`${r.acked - r.notifications} not notified in time`);
      if (consumers && consumers.ms < 0) {
        const behind = consumers.remaining.filter((c) => c.backlog > 0).map((c) => `${c.durable}=${c.backlog}`);
        reasons.push(`consumers behind after ${CONSUMER_CATCH_UP_MS / 1000} s: ${behind.join(', ')}`);
      }
      steps.push({ ...strip(r), passed: reasons.length === 0, reasons, consumers });
      if (reasons.length > 0) {
        firstFailure = `${rate} msg/s: ${reasons.join('; ')}`;
        break;
      }
      best = Math.max(best, r.ackedPerSec);
    }
  } finally {
    await disconnectAll(ctx.bench);
  }
  return {
    scenario: 'max',
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    pairs: sizes.pairs,
    p99BoundMs: sizes.maxP99Ms,
    highestPassingRate: best,
    firstFailure,
    steps,
    targets: [
      {
        name: `max: >= 3000 msg/s persisted, fanned out, notified and indexed, p99 < ${sizes.maxP99Ms} ms`,
        value: `${best} msg/s${firstFailure ? ` (first failing step ${firstFailure})` : ' (no step failed)'}`,
        met: best >= 3000,
      },
    ],
  };
}
