/**
 * `pnpm bench`: runs Parley's benchmarks and writes the results under
 * packages/bench/results/<timestamp>/ (JSON per scenario, summary.md, SVG
 * charts, process logs).
 *
 *   pnpm bench                                  every scenario, connected mode, full sizes
 *   pnpm bench --quick                          tiny sizes (a minute or two)
 *   pnpm bench --scenario pairs,max             some scenarios
 *   pnpm bench --mode standalone                embedded infrastructure (one process)
 *   pnpm bench --topology single                connected, but all services in one process
 *   pnpm bench --set pairsRate=500 --set workers=2   override a size
 *   pnpm bench --out /tmp/bench-results
 *   pnpm bench --budget-min 30                  allow a longer run (default 14 minutes)
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBench, SCENARIOS, type ScenarioName } from './run';
import { FULL, QUICK, type Sizes } from './scenarios/context';

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));

function fail(message: string): never {
  process.stderr.write(`pnpm bench: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    mode: { type: 'string', default: 'connected' },
    topology: { type: 'string', default: 'split' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    set: { type: 'string', multiple: true },
    'budget-min': { type: 'string', default: '14' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});

if (values.help) {
  process.stdout.write(
    `usage: pnpm bench [--scenario ${SCENARIOS.join('|')}[,...]] [--mode connected|standalone] [--topology split|single] [--quick] [--out DIR] [--set size=value ...]\n`,
  );
  process.exit(0);
}

const scenarios = (values.scenario ?? [SCENARIOS.join(',')])
  .flatMap((s) => s.split(','))
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of scenarios)
  if (!SCENARIOS.includes(s as ScenarioName)) fail(`unknown scenario "${s}" (${SCENARIOS.join(', ')})`);
if (values.mode !== 'connected' && values.mode !== 'standalone') fail('--mode is connected or standalone');
if (values.topology !== 'split' && values.topology !== 'single') fail('--topology is split or single');

const sizes: Sizes = { ...(values.quick ? QUICK : FULL) };
for (const kv of values.set ?? []) {
  const [key, raw] = kv.split('=');
  if (!key || raw === undefined || !(key in sizes))
    fail(`--set ${kv}: unknown size (${Object.keys(sizes).join(', ')})`);
  const current = sizes[key as keyof Sizes];
  const parsed = Array.isArray(current) ? raw.split(',').map(Number) : Number(raw);
  if ((Array.isArray(parsed) ? parsed : [parsed]).some((n) => !Number.isFinite(n) || n < 0))
    fail(`--set ${kv}: not a number`);
  (sizes as unknown as Record<string, unknown>)[key] = parsed;
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = values.out ?? join(RESULTS, stamp);
const run = await runBench({
  scenarios: SCENARIOS.filter((s) => scenarios.includes(s)),
  mode: values.mode,
  topology: values.mode === 'standalone' ? 'single' : values.topology,
  sizes,
  quick: values.quick,
  outDir,
  command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
  budgetMin: Number(values['budget-min']) || 14,
});
process.exit(Object.keys(run.failures).length > 0 ? 1 : 0);
