/**
 * Hand-built SVG charts (no dependencies): latency percentiles per scenario
 * on a log scale, the throughput steps of `max`, and the fan-out steps of
 * Parley against the bare-ws ceiling.
 */
import type { LatencySummary } from '../histogram';

const W = 900;
const H = 420;
const M = { top: 50, right: 70, bottom: 90, left: 70 };
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function frame(title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>
${body}
</svg>
`;
}

function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min && v <= max) ticks.push(v);
    }
  }
  return ticks;
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

function fmt(v: number): string {
  if (v >= 1_000_000) return `${Math.round(v / 100_000) / 10}M`;
  if (v >= 1000) return `${Math.round(v / 100) / 10}k`;
  if (v >= 1) return `${Math.round(v * 10) / 10}`;
  return `${Math.round(v * 100) / 100}`;
}

export interface LatencySeries {
  label: string;
  latency: LatencySummary;
}

/** Grouped bars: p50, p90, p99, p99.9, max per series, log-scale milliseconds. */
export function latencyChart(title: string, series: LatencySeries[]): string {
  const keys: (keyof LatencySummary)[] = ['p50', 'p90', 'p99', 'p999', 'max'];
  const names = ['p50', 'p90', 'p99', 'p99.9', 'max'];
  const values = series.flatMap((s) => keys.map((k) => s.latency[k])).filter((v) => v > 0);
  const lo = Math.max(0.01, 10 ** Math.floor(Math.log10(Math.min(...values, 1))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 10)));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const y = (v: number) =>
    M.top + plotH - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  const parts: string[] = [];
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(
    `<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>`,
  );
  const groupW = plotW / Math.max(1, series.length);
  const barW = Math.min(24, (groupW * 0.8) / keys.length);
  series.forEach((s, i) => {
    const gx = M.left + i * groupW + (groupW - barW * keys.length) / 2;
    keys.forEach((k, j) => {
      const v = s.latency[k];
      const top = y(v);
      parts.push(
        `<rect x="${gx + j * barW}" y="${top}" width="${barW - 2}" height="${M.top + plotH - top}" fill="${COLORS[j]}"><title>${esc(`${s.label} ${names[j]}: ${v} ms`)}</title></rect>`,
      );
    });
    const lx = M.left + i * groupW + groupW / 2;
    parts.push(`<text x="${lx}" y="${M.top + plotH + 16}" text-anchor="middle">${esc(s.label)}</text>`);
    parts.push(
      `<text x="${lx}" y="${M.top + plotH + 32}" text-anchor="middle" fill="#555">p99 ${s.latency.p99} ms</text>`,
    );
  });
  names.forEach((n, j) => {
    const x = M.left + j * 80;
    parts.push(`<rect x="${x}" y="${H - 30}" width="12" height="12" fill="${COLORS[j]}"/>`);
    parts.push(`<text x="${x + 16}" y="${H - 20}">${n}</text>`);
  });
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`);
  return frame(title, parts.join('\n'));
}

export interface Step {
  label: string;
  /** Bar value (left axis). */
  value: number;
  /** Line value (right axis), e.g. p99 ms. */
  line: number;
  passed: boolean;
}

/** Bars for achieved throughput per step, a line for p99 (right axis), failing steps hatched red. */
export function stepsChart(
  title: string,
  valueLabel: string,
  lineLabel: string,
  steps: Step[],
  lineBound?: number,
): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const vMax = niceMax(Math.max(1, ...steps.map((s) => s.value)));
  const lMax = niceMax(Math.max(1, lineBound ?? 0, ...steps.map((s) => s.line)));
  const y = (v: number) => M.top + plotH - (v / vMax) * plotH;
  const yl = (v: number) => M.top + plotH - (Math.min(v, lMax) / lMax) * plotH;
  const parts: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = (vMax * i) / 5;
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
    parts.push(
      `<text x="${W - M.right + 6}" y="${yl((lMax * i) / 5) + 4}" fill="#e15759">${fmt((lMax * i) / 5)}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(valueLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(${W - 12} ${M.top + plotH / 2}) rotate(90)" text-anchor="middle" fill="#e15759">${esc(lineLabel)}</text>`,
  );
  const slot = plotW / Math.max(1, steps.length);
  const pts: string[] = [];
  steps.forEach((s, i) => {
    const x = M.left + i * slot + slot * 0.2;
    const top = y(s.value);
    parts.push(
      `<rect x="${x}" y="${top}" width="${slot * 0.6}" height="${M.top + plotH - top}" fill="${s.passed ? '#4e79a7' : '#f4a6a6'}"><title>${esc(`${s.label}: ${s.value}, ${lineLabel} ${s.line}`)}</title></rect>`,
    );
    parts.push(`<text x="${x + slot * 0.3}" y="${top - 4}" text-anchor="middle" font-size="10">${fmt(s.value)}</text>`);
    parts.push(`<text x="${x + slot * 0.3}" y="${M.top + plotH + 16}" text-anchor="middle">${esc(s.label)}</text>`);
    pts.push(`${x + slot * 0.3},${yl(s.line)}`);
  });
  if (pts.length > 0) {
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="#e15759" stroke-width="2"/>`);
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="#e15759"/>`);
    }
  }
  if (lineBound !== undefined) {
    parts.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${yl(lineBound)}" y2="${yl(lineBound)}" stroke="#e15759" stroke-dasharray="6 4"/>`,
    );
  }
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`);
  parts.push(
    `<rect x="${M.left}" y="${H - 30}" width="12" height="12" fill="#4e79a7"/><text x="${M.left + 16}" y="${H - 20}">passed</text>`,
  );
  parts.push(
    `<rect x="${M.left + 90}" y="${H - 30}" width="12" height="12" fill="#f4a6a6"/><text x="${M.left + 106}" y="${H - 20}">failed</text>`,
  );
  parts.push(
    `<line x1="${M.left + 180}" x2="${M.left + 200}" y1="${H - 24}" y2="${H - 24}" stroke="#e15759" stroke-width="2"/><text x="${M.left + 206}" y="${H - 20}">${esc(lineLabel)}${lineBound !== undefined ? ` (dashed: bound ${lineBound})` : ''}</text>`,
  );
  return frame(title, parts.join('\n'));
}

/** Two series of bars per step (e.g. Parley vs bare-ws deliveries/s). */
export function compareChart(
  title: string,
  yLabel: string,
  labels: string[],
  a: { name: string; values: (number | null)[] },
  b: { name: string; values: (number | null)[] },
): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const vMax = niceMax(Math.max(1, ...[...a.values, ...b.values].map((v) => v ?? 0)));
  const y = (v: number) => M.top + plotH - (v / vMax) * plotH;
  const parts: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = (vMax * i) / 5;
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  parts.push(
    `<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  const slot = plotW / Math.max(1, labels.length);
  labels.forEach((label, i) => {
    const x = M.left + i * slot + slot * 0.15;
    const bw = slot * 0.35;
    [a, b].forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      const top = y(v);
      parts.push(
        `<rect x="${x + j * bw}" y="${top}" width="${bw - 2}" height="${M.top + plotH - top}" fill="${COLORS[j]}"><title>${esc(`${s.name} ${label}: ${v}`)}</title></rect>`,
      );
      parts.push(
        `<text x="${x + j * bw + bw / 2}" y="${top - 4}" text-anchor="middle" font-size="10">${fmt(v)}</text>`,
      );
    });
    parts.push(`<text x="${x + bw}" y="${M.top + plotH + 16}" text-anchor="middle">${esc(label)}</text>`);
  });
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`);
  [a, b].forEach((s, j) => {
    parts.push(
      `<rect x="${M.left + j * 160}" y="${H - 30}" width="12" height="12" fill="${COLORS[j]}"/><text x="${M.left + j * 160 + 16}" y="${H - 20}">${esc(s.name)}</text>`,
    );
  });
  return frame(title, parts.join('\n'));
}
