/**
 * Outbox metrics on a service's registry. Several outboxes may share one
 * registry (label `producer`), so the metrics are created once per registry
 * and the backlog gauge asks every registered outbox when scraped.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface OutboxMetrics {
  published: Counter<'producer'>;
  publishErrors: Counter<'producer'>;
  /** Registers the backlog source of one outbox; returns its unregister. */
  watchBacklog(producer: string, backlog: () => Promise<number>): () => void;
}

const byRegistry = new WeakMap<Registry, OutboxMetrics>();

export function outboxMetrics(registry: Registry): OutboxMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const sources = new Map<string, () => Promise<number>>();
  new Gauge({
    name: 'outbox_backlog',
    help: 'Outbox rows committed but not yet acknowledged by the bus',
    labelNames: ['producer'],
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        [...sources].map(async ([producer, backlog]) => {
          try {
            this.set({ producer }, await backlog());
          } catch {
            // Database unreachable while scraping: leave the series out rather than fail the scrape.
          }
        }),
      );
    },
  });
  const metrics: OutboxMetrics = {
    published: new Counter({
      name: 'outbox_published_total',
      help: 'Outbox events published and acknowledged by the bus',
      labelNames: ['producer'],
      registers: [registry],
    }),
    publishErrors: new Counter({
      name: 'outbox_publish_errors_total',
      help: 'Failed outbox publish attempts (retried with backoff)',
      labelNames: ['producer'],
      registers: [registry],
    }),
    watchBacklog(producer, backlog) {
      sources.set(producer, backlog);
      return () => {
        if (sources.get(producer) === backlog) sources.delete(producer);
      };
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
