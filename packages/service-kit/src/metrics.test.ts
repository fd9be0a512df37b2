import { describe, expect, it } from 'vitest';
import { counter, createRegistry, gauge, histogram } from './metrics';

describe('metrics helpers', () => {
  it('return the registered metric instead of throwing on a second registration', async () => {
    const registry = createRegistry('test', { defaultMetrics: false });
    const a = counter(registry, { name: 'things_total', help: 'things', labelNames: ['kind'] });
    const b = counter(registry, { name: 'things_total', help: 'things', labelNames: ['kind'] });
    expect(b).toBe(a);
    a.inc({ kind: 'x' });
    b.inc({ kind: 'x' });
    expect(await registry.metrics()).toContain('things_total{kind="x",service="test"} 2');
  });

  it('refuse the same name with another metric type', () => {
    const registry = createRegistry('test', { defaultMetrics: false });
    gauge(registry, { name: 'depth', help: 'depth' });
    expect(() => histogram(registry, { name: 'depth', help: 'depth' })).toThrow(/another type/);
  });

  it('keep registries of different apps apart', async () => {
    const one = createRegistry('one', { defaultMetrics: false });
    const two = createRegistry('two', { defaultMetrics: false });
    counter(one, { name: 'c_total', help: 'c' }).inc();
    counter(two, { name: 'c_total', help: 'c' });
    expect(await one.metrics()).toContain('c_total{service="one"} 1');
    expect(await two.metrics()).toContain('c_total{service="two"} 0');
  });

  it('include process metrics by default', async () => {
    expect(await createRegistry('svc').metrics()).toContain('process_cpu_user_seconds_total');
  });
});
