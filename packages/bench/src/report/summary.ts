/**
 * The run's Markdown summary and charts, from the scenario results.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LatencySummary } from '../histogram';
import type { UsageWindow } from '../proc-stats';
import type { ScenarioResult } from '../scenarios/context';
import { compareChart, type LatencySeries, latencyChart, stepsChart } from './charts';

export interface RunInfo {
  startedAt: string;
  finishedAt: string;
  command: string;
  mode: string;
  topology: string;
  quick: boolean;
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string };
  raisedLimits: Record<string, string>;
  sizes: Record<string, unknown>;
  parleyStartMs: number;
  /** /proc/loadavg (1, 5, 15 min) at the start and the end: other work competing for the cores. */
  loadAverage: { start: string; end: string };
  setup: Record<string, number>;
  failures: Record<string, string>;
}

interface PhaseLike {
  targetRate: number;
  ackedPerSec: number;
  deliveriesPerSec: number;
  deliveries: number;
  expectedDeliveries: number;
  lost: number;
  unanswered: number;
  duplicates: number;
  errors: Record<string, number>;
  notifications: number;
  latency: {
    delivery: LatencySummary;
    ack: LatencySummary;
    notification: LatencySummary;
    schedulerLag: LatencySummary;
  };
  usage: UsageWindow;
  passed?: boolean;
  reasons?: string[];
}

const lat = (l: LatencySummary) => `${l.p50} / ${l.p90} / ${l.p99} / ${l.p999} / ${l.max}`;

function usageTable(u: UsageWindow): string {
  const rows = [...u.processes]
    .sort((a, b) => b.cpuSec - a.cpuSec)
    .map((p) => `| ${p.name} | ${p.cpuSec} | ${p.cpuPct} % | ${p.cpuMsPerMessage ?? '-'} | ${p.peakRssMiB} |`);
  return [
    `Machine busy ${u.machineBusyPct} % of ${u.seconds} s (all cores). Per process (CPU % is of one core; CPU ms/msg is per acknowledged message, so 1000 / it is what one core could sustain):`,
    '',
    '| process | CPU s | CPU % | CPU ms/msg | peak RSS MiB |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

function phaseTable(rows: { label: string; p: PhaseLike }[]): string {
  const head = [
    '| phase | target msg/s | acked msg/s | deliveries/s | delivery ms p50 / p90 / p99 / p99.9 / max | ack p99 ms | notification p99 ms | lost | unanswered | dup | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  return [
    ...head,
    ...rows.map(
      ({ label, p }) =>
        `| ${label}${p.passed === false ? ' (failed)' : ''} | ${p.targetRate} | ${p.ackedPerSec} | ${p.deliveriesPerSec} | ${lat(p.latency.delivery)} | ${p.latency.ack.p99} | ${p.latency.notification.count > 0 ? p.latency.notification.p99 : '-'} | ${p.lost} | ${p.unanswered} | ${p.duplicates} | ${Object.keys(p.errors).length ? JSON.stringify(p.errors) : 0} |`,
    ),
  ].join('\n');
}

function section(r: ScenarioResult): string {
  const out: string[] = [`## ${r.scenario}`, '', `Ran ${r.seconds} s from ${r.startedAt}.`, ''];
  switch (r.scenario) {
    case 'pairs': {
      const p = r.result as PhaseLike;
      out.push(`${r.pairs} pairs, ${r.rate} msg/s aggregate, both sides sending.`, '');
      out.push(
        phaseTable([
          { label: 'warm-up', p: r.warmup as PhaseLike },
          { label: 'measured', p },
        ]),
        '',
      );
      out.push(`Send-loop lateness (the generator's own): p99 ${p.latency.schedulerLag.p99} ms.`, '');
      out.push(usageTable(p.usage));
      break;
    }
    case 'max': {
      const steps = r.steps as PhaseLike[];
      out.push(
        `Highest passing rate: **${r.highestPassingRate} msg/s**. First failing step: ${r.firstFailure ?? 'none'}.`,
        '',
      );
      out.push(phaseTable(steps.map((s) => ({ label: `${s.targetRate}`, p: s }))), '');
      for (const s of steps) {
        const c = (s as unknown as { consumers?: { ms: number; initial: { durable: string; backlog: number }[] } })
          .consumers;
        if (c) {
          const behind = c.initial.filter((x) => x.backlog > 0).map((x) => `${x.durable} ${x.backlog}`);
          out.push(
            `- ${s.targetRate} msg/s: consumers ${c.ms >= 0 ? `caught up ${c.ms} ms after the step` : 'NOT caught up'}${behind.length ? ` (backlog at the end of the step: ${behind.join(', ')})` : ''}`,
          );
        }
      }
      const last = steps.at(-1);
      if (last) out.push('', `Usage during the last step (${last.targetRate} msg/s):`, '', usageTable(last.usage));
      break;
    }
    case 'fanout':
    case 'baseline': {
      const rows: { label: string; p: PhaseLike }[] = [];
      const fans = r.scenario === 'fanout' ? [r.parley, r.bare] : [r.fanout];
      if (r.scenario === 'baseline') rows.push({ label: 'bare-ws pairs', p: r.pairs as PhaseLike });
      for (const f of fans as {
        target: string;
        members: number;
        fixed: PhaseLike;
        steps: PhaseLike[];
        ceilingDeliveriesPerSec: number;
      }[]) {
        rows.push({ label: `${f.target} fan-out, fixed`, p: f.fixed });
        for (const s of f.steps) rows.push({ label: `${f.target} step`, p: s });
      }
      out.push(phaseTable(rows), '');
      for (const f of fans as {
        target: string;
        members: number;
        ceilingDeliveriesPerSec: number;
        fixed: PhaseLike;
      }[]) {
        out.push(`- ${f.target}: ${f.members} members, highest passing deliveries/s ${f.ceilingDeliveriesPerSec}`);
      }
      const f0 = (fans[0] as { fixed: PhaseLike }).fixed;
      out.push(
        '',
        `Usage during the fixed-rate phase (${(fans[0] as { target: string }).target}):`,
        '',
        usageTable(f0.usage),
      );
      break;
    }
    case 'idle':
      out.push(
        `${(r.connect as { opened: number }).opened} connections over ${r.users} users; ${r.gatewayProcess} RSS ${r.gatewayRssBeforeMiB} MiB before, ${r.gatewayRssAfterMiB} MiB after: **${r.rssPerConnectionKiB} KiB per connection**; opened at ${(r.connect as { achievedPerSec: number }).achievedPerSec}/s (upgrade + auth to \`ready\` p50 / p99: ${(r.connect as { readyLatency: LatencySummary }).readyLatency.p50} / ${(r.connect as { readyLatency: LatencySummary }).readyLatency.p99} ms).`,
        '',
        usageTable(r.usage as UsageWindow),
      );
      break;
    case 'storm':
      out.push(
        `${r.clients} clients over ${r.conversations} conversations; ${r.missedMessages} messages sent while they were away; all caught up in **${r.allCaughtUpSeconds ?? 'n/a'} s** (per client p50 / p99 / max: ${(r.catchUp as LatencySummary).p50} / ${(r.catchUp as LatencySummary).p99} / ${(r.catchUp as LatencySummary).max} ms); missing ${r.missing}, duplicates ${r.duplicates}, resyncs ${r.resyncs}, reconnect failures and resume errors ${JSON.stringify(r.reconnectFailures)}.`,
        '',
        usageTable(r.usage as UsageWindow),
      );
      break;
    case 'startup':
      out.push(
        `\`${r.command}\`: ready after ${r.freshDataDirMs} ms on a fresh data directory, ${r.restartMs} ms on restart.`,
      );
      break;
    default:
      break;
  }
  return out.join('\n');
}

export function writeReport(dir: string, info: RunInfo, results: ScenarioResult[]): void {
  const charts: string[] = [];
  const series: LatencySeries[] = [];
  for (const r of results) {
    if (r.scenario === 'pairs')
      series.push({ label: `pairs ${r.rate}/s`, latency: (r.result as PhaseLike).latency.delivery });
    if (r.scenario === 'baseline') {
      series.push({ label: 'bare-ws pairs', latency: (r.pairs as PhaseLike).latency.delivery });
      series.push({ label: 'bare-ws fan-out', latency: (r.fanout as { fixed: PhaseLike }).fixed.latency.delivery });
    }
    if (r.scenario === 'fanout') {
      series.push({ label: 'fan-out', latency: (r.parley as { fixed: PhaseLike }).fixed.latency.delivery });
      if (!results.some((x) => x.scenario === 'baseline')) {
        series.push({ label: 'bare-ws fan-out', latency: (r.bare as { fixed: PhaseLike }).fixed.latency.delivery });
      }
    }
    if (r.scenario === 'max') {
      const steps = r.steps as PhaseLike[];
      const lastPass = [...steps].reverse().find((s) => s.passed);
      if (lastPass) series.push({ label: `max ${lastPass.targetRate}/s`, latency: lastPass.latency.delivery });
    }
    if (r.scenario === 'storm') series.push({ label: 'storm catch-up', latency: r.catchUp as LatencySummary });
    if (r.scenario === 'idle')
      series.push({ label: 'idle connect', latency: (r.connect as { readyLatency: LatencySummary }).readyLatency });
  }
  if (series.length > 0) {
    writeFileSync(
      join(dir, 'latency.svg'),
      latencyChart('Latency percentiles per scenario (scheduled send to receipt)', series),
    );
    charts.push('latency.svg');
  }
  const max = results.find((r) => r.scenario === 'max');
  if (max) {
    const steps = (max.steps as PhaseLike[]).map((s) => ({
      label: `${s.targetRate}/s`,
      value: s.ackedPerSec,
      line: s.latency.delivery.p99,
      passed: s.passed ?? false,
    }));
    writeFileSync(
      join(dir, 'max-steps.svg'),
      stepsChart(
        'max: achieved msg/s per step (bars) and p99 delivery ms (line)',
        'acknowledged messages/s',
        'p99 ms',
        steps,
        max.p99BoundMs as number,
      ),
    );
    charts.push('max-steps.svg');
  }
  const fan = results.find((r) => r.scenario === 'fanout');
  if (fan) {
    const p = fan.parley as { steps: PhaseLike[] };
    const b = fan.bare as { steps: PhaseLike[] };
    const rates = [...new Set([...p.steps, ...b.steps].map((s) => s.targetRate))].sort((x, y) => x - y);
    const val = (steps: PhaseLike[], rate: number) => {
      const s = steps.find((x) => x.targetRate === rate);
      return s ? s.deliveriesPerSec : null;
    };
    writeFileSync(
      join(dir, 'fanout-steps.svg'),
      compareChart(
        'fanout: deliveries/s per message-rate step (Parley vs bare-ws)',
        'deliveries/s',
        rates.map((r) => `${r} msg/s`),
        { name: 'Parley', values: rates.map((r) => val(p.steps, r)) },
        { name: 'bare ws', values: rates.map((r) => val(b.steps, r)) },
      ),
    );
    charts.push('fanout-steps.svg');
  }

  const targets = results.flatMap((r) => r.targets);
  const md: string[] = [
    `# Parley bench ${info.startedAt}`,
    '',
    `- Command: \`${info.command}\``,
    `- Mode: ${info.mode}, topology ${info.topology}${info.quick ? ' (QUICK sizes: not representative)' : ''}; Parley ready ${info.parleyStartMs} ms after launch`,
    `- Machine: ${info.machine.cpu}, ${info.machine.cores} cores, ${info.machine.memoryGiB} GiB, ${info.machine.os}, Node ${info.machine.node}; Postgres, Redis, NATS, Parley and the load generators all on it`,
    `- **Rate limits raised for the bench** (documented variables): ${Object.entries(info.raisedLimits)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `- Setup: ${Object.entries(info.setup)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ')}`,
    `- Run: ${info.startedAt} to ${info.finishedAt}`,
    `- Load average (1/5/15 min) at start ${info.loadAverage.start}, at end ${info.loadAverage.end} on ${info.machine.cores} cores: above ~${info.machine.cores} the machine was oversubscribed (by the bench itself and anything else running), which shows in every figure`,
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...targets.map((t) => `| ${t.name} | ${t.value} | ${t.met === null ? '-' : t.met ? 'yes' : '**no**'} |`),
    ...Object.entries(info.failures).map(([s, e]) => `| ${s} | failed to run: ${e.split('\n')[0]} | **no** |`),
    '',
    ...charts.map((c) => `![${c}](${c})`),
    '',
    'Latencies in ms, from the scheduled send time (open loop) to receipt at each recipient; "lost" counts acknowledged messages that a recipient never received.',
    '',
    ...results.map(section),
    '',
    '## Sizes',
    '',
    '```json',
    JSON.stringify(info.sizes, null, 2),
    '```',
    '',
  ];
  writeFileSync(join(dir, 'summary.md'), md.join('\n'));
}
