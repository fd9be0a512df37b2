/**
 * `pairs`: N connected 1:1 pairs, both sides sending, at a fixed aggregate
 * rate (open loop); latency from the scheduled send to the other side's
 * `message.created`. `max` reuses the same clients and steps the rate up.
 */
import type { ClientSpec, ExpectedSenders, SenderSpec, Target as WsTarget } from '../load/protocol';
import { type ConnectSummary, connectClients, disconnectAll, type PhaseResult, reportable, runPhase } from '../traffic';
import { clientFor, type ScenarioContext } from './context';

export interface PairClients {
  clients: ClientSpec[];
  expect: ExpectedSenders;
  connect: ConnectSummary;
  senders(rate: number): SenderSpec[];
}

/** Connects both sides of every pair (a pair's two clients share a load generator). */
export async function connectPairs(ctx: ScenarioContext, target: WsTarget, wsUrl: string): Promise<PairClients> {
  const { population, sizes, bench } = ctx;
  await population.ensurePairs(sizes.pairs);
  await population.refreshTokens();
  const clients: ClientSpec[] = [];
  const expect: ExpectedSenders = {};
  const sendersOf: { idx: number; conversationId: string }[] = [];
  population.pairs.slice(0, sizes.pairs).forEach((p, i) => {
    const a = clientFor(ctx, p.a, [p.conversationId]);
    const b = clientFor(ctx, p.b, [p.conversationId]);
    const worker = i % bench.pool.size;
    bench.placement.set(a.idx, worker);
    bench.placement.set(b.idx, worker);
    clients.push(a, b);
    expect[p.conversationId] = [a.idx, b.idx];
    sendersOf.push({ idx: a.idx, conversationId: p.conversationId }, { idx: b.idx, conversationId: p.conversationId });
  });
  const connect = await connectClients(bench, target, wsUrl, clients, { ratePerSec: sizes.connectRate });
  if (connect.opened < clients.length) {
    throw new Error(
      `only ${connect.opened} of ${clients.length} pair clients connected: ${JSON.stringify(connect.errors)}`,
    );
  }
  return {
    clients,
    expect,
    connect,
    senders: (rate) => sendersOf.map((s) => ({ ...s, ratePerSec: rate / sendersOf.length })),
  };
}

export async function pairsAt(
  ctx: ScenarioContext,
  pc: PairClients,
  rate: number,
  durationMs: number,
  drainMs = 5000,
): Promise<PhaseResult> {
  return runPhase(ctx.bench, { targetRate: rate, durationMs, senders: pc.senders(rate), expect: pc.expect, drainMs });
}

export function strip(r: PhaseResult): Omit<PhaseResult, 'ackedBits'> {
  const { ackedBits: _bits, ...rest } = r;
  return rest;
}

export async function runPairs(ctx: ScenarioContext) {
  const { sizes, parley } = ctx;
  const started = Date.now();
  const pc = await connectPairs(ctx, 'parley', parley.wsUrl);
  try {
    ctx.bench.log(`pairs: ${sizes.pairs} pairs connected, warm-up ${sizes.warmupMs / 1000} s`);
    const warmup = await pairsAt(ctx, pc, sizes.pairsRate, sizes.warmupMs);
    ctx.bench.log(`pairs: measuring ${sizes.pairsRate} msg/s for ${sizes.pairsDurationMs / 1000} s`);
    const measured = await pairsAt(ctx, pc, sizes.pairsRate, sizes.pairsDurationMs);
    const d = measured.latency.delivery;
    const lostOrFailed =
      measured.lost + measured.unanswered + Object.values(measured.errors).reduce((a, b) => a + b, 0);
    return {
      scenario: 'pairs',
      startedAt: new Date(started).toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
      pairs: sizes.pairs,
      rate: sizes.pairsRate,
      connect: reportable(pc.connect),
      warmup: strip(warmup),
      result: strip(measured),
      targets: [
        { name: `pairs p50 at ${sizes.pairsRate} msg/s <= 5 ms`, value: `${d.p50} ms`, met: d.p50 <= 5 },
        { name: `pairs p99 at ${sizes.pairsRate} msg/s <= 25 ms`, value: `${d.p99} ms`, met: d.p99 <= 25 },
        {
          name: 'pairs: nothing lost',
          value: `${measured.lost} lost, ${measured.unanswered} unanswered, errors ${JSON.stringify(measured.errors)}`,
          met: lostOrFailed === 0,
        },
      ],
    };
  } finally {
    await disconnectAll(ctx.bench);
  }
}
