/**
 * The moves every scenario is made of: connect a set of clients (spread over
 * the load generators), run an open-loop traffic phase and account for every
 * message at every recipient, and read the processes' usage meanwhile.
 */
import { nowMs, sleep } from './clock';
import { decodeHistogram, type LatencySummary, mergeEncoded, summarize } from './histogram';
import type {
  AckedBySender,
  CheckResult,
  ClientSpec,
  CollectResult,
  ConnectResult,
  ExpectedSenders,
  SenderSpec,
  Target,
} from './load/protocol';
import type { WorkerPool } from './load/worker-pool';
import type { ProcSampler, UsageWindow } from './proc-stats';

export interface Bench {
  pool: WorkerPool;
  sampler: ProcSampler;
  /** Which load generator holds each client. */
  placement: Map<number, number>;
  nextPhase(): number;
  log(line: string): void;
}

export interface ConnectSummary {
  requested: number;
  opened: number;
  failed: number;
  errors: Record<string, number>;
  /** Connections per second achieved: opened / (last ready - first attempt). */
  achievedPerSec: number;
  seconds: number;
  readyLatency: LatencySummary;
  /** Clients that did not connect. */
  failedIdx: number[];
}

function mergeCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Connects clients, round-robin over the load generators, at `ratePerSec` in total. */
export async function connectClients(
  bench: Bench,
  target: Target,
  wsUrl: string,
  clients: ClientSpec[],
  opts: { ratePerSec: number; timeoutMs?: number },
): Promise<ConnectSummary> {
  const perWorker: ClientSpec[][] = bench.pool.workers.map(() => []);
  clients.forEach((c, i) => {
    const w = bench.placement.get(c.idx) ?? i % bench.pool.size;
    bench.placement.set(c.idx, w);
    perWorker[w]!.push(c);
  });
  const active = perWorker.filter((l) => l.length > 0).length || 1;
  const results = await bench.pool.each<ConnectResult>((w) =>
    perWorker[w]!.length === 0
      ? null
      : {
          cmd: 'connect',
          target,
          wsUrl,
          clients: perWorker[w]!,
          ratePerSec: opts.ratePerSec / active,
          timeoutMs: opts.timeoutMs ?? 15_000,
        },
  );
  const done = results.filter((r): r is ConnectResult => r !== null);
  const errors: Record<string, number> = {};
  for (const r of done) mergeCounts(errors, r.errors);
  const opened = done.reduce((a, r) => a + r.opened, 0);
  const first = Math.min(...done.map((r) => r.firstAttemptAt));
  const last = Math.max(...done.map((r) => r.lastReadyAt));
  const seconds = Math.max(0.001, (last - first) / 1000);
  return {
    requested: clients.length,
    opened,
    failed: done.reduce((a, r) => a + r.failed, 0),
    errors,
    achievedPerSec: Math.round(opened / seconds),
    seconds: Math.round(seconds * 100) / 100,
    readyLatency: summarize(mergeEncoded(done.map((r) => r.readyHist))),
    failedIdx: done.flatMap((r) => r.failedIdx),
  };
}

/** Closes every client and forgets it (the next scenario starts from none). */
/** A connect summary for reports: the refused client ids are counted, not listed. */
export function reportable(c: ConnectSummary): Omit<ConnectSummary, 'failedIdx'> {
  const { failedIdx: _ids, ...rest } = c;
  return rest;
}

export async function disconnectAll(bench: Bench): Promise<void> {
  await bench.pool.all({ cmd: 'disconnect', clients: 'all', forget: true });
  bench.placement.clear();
}

export interface PhaseResult {
  phase: number;
  /** Target aggregate send rate, messages/s. */
  targetRate: number;
  seconds: number;
  sent: number;
  /** Acknowledged by the server (persisted). */
  acked: number;
  unanswered: number;
  errors: Record<string, number>;
  /** Achieved rates: acknowledged sends/s and deliveries/s over the phase. */
  ackedPerSec: number;
  deliveriesPerSec: number;
  deliveries: number;
  expectedDeliveries: number;
  /** Acknowledged messages that did not reach a recipient by the end of the drain. */
  lost: number;
  lostExamples: string[];
  duplicates: number;
  notifications: number;
  latency: {
    delivery: LatencySummary;
    ack: LatencySummary;
    notification: LatencySummary;
    schedulerLag: LatencySummary;
  };
  usage: UsageWindow;
  /** Per sender, the acknowledged message numbers (not written to the reports). */
  ackedBits?: AckedBySender;
}

export interface PhaseInput {
  targetRate: number;
  durationMs: number;
  senders: SenderSpec[];
  /** Conversation -> sender idxs whose messages its other clients must receive. */
  expect: ExpectedSenders;
  /** How long to wait for late acks and deliveries after the last send. */
  drainMs?: number;
}

/** Runs one open-loop phase on the clients already connected, and accounts for every message. */
export async function runPhase(bench: Bench, input: PhaseInput): Promise<PhaseResult> {
  const phase = bench.nextPhase();
  const drainMs = input.drainMs ?? 5000;
  const perWorker: SenderSpec[][] = bench.pool.workers.map(() => []);
  for (const s of input.senders) {
    const w = bench.placement.get(s.idx);
    if (w === undefined) throw new Error(`sender ${s.idx} is not connected`);
    perWorker[w]!.push(s);
  }
  const startAt = nowMs() + 300;
  await bench.pool.each((w) => ({
    cmd: 'load',
    phase,
    startAt,
    durationMs: input.durationMs,
    senders: perWorker[w]!,
  }));
  await sleep(Math.max(0, startAt - nowMs()));
  const mark = bench.sampler.mark();
  await sleep(input.durationMs);
  const usage = bench.sampler.window(mark);

  // Late acks first, then every acknowledged message at every recipient.
  const first = await bench.pool.all<CollectResult>({ cmd: 'collect', phase, drainMs });
  const acked: AckedBySender = {};
  for (const r of first) Object.assign(acked, r.acked_bits);
  const deadline = Date.now() + drainMs;
  let checks: CheckResult[];
  for (;;) {
    checks = await bench.pool.all<CheckResult>({ cmd: 'check', phase, acked, expect: input.expect });
    if (checks.every((c) => c.missing === 0) || Date.now() > deadline) break;
    await sleep(200);
  }
  const final = await bench.pool.all<CollectResult>({ cmd: 'collect', phase, drainMs: 0 });

  const errors: Record<string, number> = {};
  for (const r of final) mergeCounts(errors, r.errors);
  const sum = (f: (r: CollectResult) => number) => final.reduce((a, r) => a + f(r), 0);
  const seconds = input.durationMs / 1000;
  const deliveries = sum((r) => r.deliveries);
  const firstAt = Math.min(...final.filter((r) => r.firstDeliveryAt > 0).map((r) => r.firstDeliveryAt));
  const lastAt = Math.max(...final.map((r) => r.lastDeliveryAt));
  const deliverySpan = Number.isFinite(firstAt) && lastAt > firstAt ? (lastAt - firstAt) / 1000 : seconds;
  const acks = sum((r) => r.acked);
  if (acks > 0) {
    for (const p of usage.processes) p.cpuMsPerMessage = Math.round(((p.cpuSec * 1000) / acks) * 1000) / 1000;
  }
  return {
    phase,
    targetRate: input.targetRate,
    seconds,
    sent: sum((r) => r.sent),
    acked: acks,
    unanswered: sum((r) => r.unanswered),
    errors,
    ackedPerSec: Math.round(acks / seconds),
    deliveriesPerSec: Math.round(deliveries / Math.max(seconds, deliverySpan)),
    deliveries,
    expectedDeliveries: checks.reduce((a, c) => a + c.expected, 0),
    lost: checks.reduce((a, c) => a + c.missing, 0),
    lostExamples: checks.flatMap((c) => c.examples).slice(0, 5),
    duplicates: sum((r) => r.duplicates),
    notifications: sum((r) => r.notifications),
    latency: {
      delivery: summarize(mergeEncoded(final.map((r) => r.deliveryHist))),
      ack: summarize(mergeEncoded(final.map((r) => r.ackHist))),
      notification: summarize(mergeEncoded(final.map((r) => r.notificationHist))),
      schedulerLag: summarize(mergeEncoded(final.map((r) => r.schedulerLagHist))),
    },
    usage,
    ackedBits: acked,
  };
}

/** A phase passes when nothing was lost, refused or left unanswered, and p99 delivery is within the bound. */
export function phasePasses(r: PhaseResult, p99BoundMs: number): boolean {
  const errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return r.lost === 0 && errorCount === 0 && r.unanswered === 0 && r.acked > 0 && r.latency.delivery.p99 <= p99BoundMs;
}

export { decodeHistogram };
