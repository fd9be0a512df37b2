/**
 * Consumer metrics on a service's registry: processing time per durable,
 * events per committed `on()` transaction (batching), and
 * lag (`consumer_pending`) asked of each running consumer when scraped, which
 * is also what the KEDA autoscaler of event consumers reads.
 */
import { Gauge, Histogram, type Registry } from 'prom-client';

export interface ConsumerMetrics {
  handleSeconds: Histogram<'durable'>;
  batchEvents: Histogram<'durable'>;
  watchPending(durable: string, pending: () => Promise<number>): () => void;
}

const byRegistry = new WeakMap<Registry, ConsumerMetrics>();
const PENDING_TIMEOUT_MS = 1000;

export function consumerMetrics(registry: Registry): ConsumerMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const sources = new Map<string, () => Promise<number>>();
  new Gauge({
    name: 'consumer_pending',
    help: 'Events stored in the stream but not yet delivered to the durable consumer',
    labelNames: ['durable'],
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        [...sources].map(async ([durable, pending]) => {
          let timer: NodeJS.Timeout | undefined;
          try {
            const n = await Promise.race([
              pending(),
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new Error('timeout')), PENDING_TIMEOUT_MS);
              }),
            ]);
            this.set({ durable }, n);
          } catch {
            // Bus unreachable while scraping: leave the series out rather than fail the scrape.
          } finally {
            clearTimeout(timer);
          }
        }),
      );
    },
  });
  const metrics: ConsumerMetrics = {
    handleSeconds: new Histogram({
      name: 'consumer_handle_seconds',
      // on(): a batch transaction's time divided among its events, so the sum is the time spent applying.
      help: 'Time to handle one event (handler and its share of its transaction)',
      labelNames: ['durable'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    batchEvents: new Histogram({
      name: 'consumer_batch_events',
      help: 'Events applied by one committed transaction of an idempotent (on()) consumer',
      labelNames: ['durable'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200],
      registers: [registry],
    }),
    watchPending(durable, pending) {
      sources.set(durable, pending);
      return () => {
        if (sources.get(durable) === pending) sources.delete(durable);
      };
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
