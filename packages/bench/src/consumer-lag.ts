/**
 * "Notified and indexed": after a load step, how far behind the event
 * consumers (notification, history, conversation activity, ...) are, read
 * from JetStream consumer info of the bench's own streams (connected mode).
 */
import { connect, type NatsConnection } from 'nats';
import { sleep } from './clock';

export interface ConsumerBacklog {
  durable: string;
  /** Not yet delivered plus delivered but not acknowledged. */
  backlog: number;
}

export class ConsumerLag {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly streamPrefix: string,
  ) {}

  static async open(natsUrl: string, busPrefix: string): Promise<ConsumerLag> {
    const nc = await connect({ servers: natsUrl, timeout: 5000, name: 'parley-bench-lag' });
    return new ConsumerLag(nc, `${busPrefix}_`.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase());
  }

  /** Backlog of every consumer on the bench's `message` stream. */
  async backlogs(): Promise<ConsumerBacklog[]> {
    const jsm = await this.nc.jetstreamManager();
    const out: ConsumerBacklog[] = [];
    const stream = `${this.streamPrefix}MESSAGE`;
    try {
      for await (const c of jsm.consumers.list(stream)) {
        out.push({ durable: c.name, backlog: c.num_pending + c.num_ack_pending });
      }
    } catch {
      // stream not there (yet)
    }
    return out.sort((a, b) => a.durable.localeCompare(b.durable));
  }

  /** Waits until every consumer's backlog is zero; returns the ms it took (or -1 at the timeout) and the backlog seen first. */
  async drain(timeoutMs: number): Promise<{ ms: number; initial: ConsumerBacklog[]; remaining: ConsumerBacklog[] }> {
    const started = Date.now();
    const initial = await this.backlogs();
    let current = initial;
    while (current.some((c) => c.backlog > 0)) {
      if (Date.now() - started > timeoutMs) return { ms: -1, initial, remaining: current };
      await sleep(100);
      current = await this.backlogs();
    }
    return { ms: Date.now() - started, initial, remaining: current };
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
