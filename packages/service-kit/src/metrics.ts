/**
 * Metrics helpers. Every app has its own prom-client Registry (`app.metrics`)
 * so several services in one process (standalone mode) and many apps in one
 * test run never collide. These helpers return the already registered metric
 * when called twice with the same name, instead of throwing.
 */
import {
  Counter,
  type CounterConfiguration,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type Metric,
  Registry,
  collectDefaultMetrics,
} from 'prom-client';

export { Registry };

type Config<T> = Omit<T, 'registers'>;

function existing<M extends Metric<string>>(registry: Registry, name: string, kind: new (...args: never[]) => M) {
  const found = registry.getSingleMetric(name);
  if (!found) return undefined;
  if (!(found instanceof kind)) throw new Error(`metric ${name} is already registered with another type`);
  return found as M;
}

export function counter<L extends string>(registry: Registry, cfg: Config<CounterConfiguration<L>>): Counter<L> {
  return existing<Counter<L>>(registry, cfg.name, Counter) ?? new Counter({ ...cfg, registers: [registry] });
}

export function gauge<L extends string>(registry: Registry, cfg: Config<GaugeConfiguration<L>>): Gauge<L> {
  return existing<Gauge<L>>(registry, cfg.name, Gauge) ?? new Gauge({ ...cfg, registers: [registry] });
}

export function histogram<L extends string>(registry: Registry, cfg: Config<HistogramConfiguration<L>>): Histogram<L> {
  return existing<Histogram<L>>(registry, cfg.name, Histogram) ?? new Histogram({ ...cfg, registers: [registry] });
}

/** Latency buckets (seconds) suited to an API answering in single-digit ms. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A registry with the process metrics and a `service` label on every series. */
export function createRegistry(service: string, opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}
