/**
 * The bench in miniature, as part of the test suite: Parley started by the
 * bench itself (connected to the real servers, one process), three pairs
 * for two seconds. It asserts only that the bench runs end to end, writes
 * its reports, and that every message reached its recipient: the figures
 * themselves are for `pnpm bench`, not for a test.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireServers } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUICK, runBench } from '../src/index';

interface PhaseJson {
  sent: number;
  acked: number;
  lost: number;
  unanswered: number;
  errors: Record<string, number>;
  deliveries: number;
  expectedDeliveries: number;
  duplicates: number;
  latency: { delivery: { count: number } };
}

describe('bench smoke', () => {
  const out = mkdtempSync(join(tmpdir(), 'parley-bench-smoke-'));
  let ready = false;

  beforeAll(async () => {
    ready = await requireServers(['postgres', 'nats', 'redis']);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs 3 pairs for 2 s against the real servers and loses nothing', { timeout: 300_000 }, async () => {
    if (!ready) return;
    const run = await runBench({
      scenarios: ['pairs'],
      mode: 'connected',
      topology: 'single',
      sizes: { ...QUICK, workers: 1, pairs: 3, pairsRate: 30, pairsDurationMs: 2000, warmupMs: 500 },
      quick: true,
      outDir: out,
      command: 'bench smoke test',
      log: () => {},
    });
    expect(run.failures).toEqual({});

    const pairs = JSON.parse(readFileSync(join(out, 'pairs.json'), 'utf8')) as { result: PhaseJson };
    const r = pairs.result;
    expect(r.sent).toBeGreaterThan(0);
    expect(r.errors).toEqual({});
    expect(r.unanswered).toBe(0);
    expect(r.acked).toBe(r.sent);
    // Each acknowledged message reaches the other side of its pair exactly once.
    expect(r.lost).toBe(0);
    expect(r.duplicates).toBe(0);
    expect(r.expectedDeliveries).toBe(r.acked);
    expect(r.deliveries).toBe(r.acked);
    expect(r.latency.delivery.count).toBe(r.deliveries);

    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toContain('Rate limits raised for the bench');
    expect(summary).toContain('| pairs: nothing lost |');
    expect(existsSync(join(out, 'latency.svg'))).toBe(true);
  });
});
