/**
 * A Bus stand-in for the HTTP-layer tests: request/reply in process, and a
 * switchable ping for /readyz. The durable parts are not needed here (the
 * real adapters have their own contract suite).
 */
import type { EventHeaders } from '@parley/contracts';
import { type Bus, BusNoRespondersError } from '../../src/bus/bus';

export interface FakeBus extends Bus {
  /** When false, ping() rejects like an unreachable server. */
  up: boolean;
  /** Headers of every request made, in order. */
  requests: { subject: string; headers: EventHeaders }[];
}

export function createFakeBus(): FakeBus {
  const handlers = new Map<string, (req: unknown, headers: EventHeaders) => unknown>();
  const unsupported = () => {
    throw new Error('not supported by the fake bus');
  };
  const bus: FakeBus = {
    up: true,
    requests: [],
    ensureStream: async () => unsupported(),
    publishDurable: async () => unsupported(),
    consume: async () => unsupported(),
    publish: () => {},
    subscribe: () => ({ unsubscribe() {} }),
    async request<T>(subject: string, data: unknown, opts?: { headers?: EventHeaders }) {
      bus.requests.push({ subject, headers: opts?.headers ?? {} });
      const handler = handlers.get(subject);
      if (!handler || !bus.up) throw new BusNoRespondersError(subject);
      return (await handler(data, opts?.headers ?? {})) as T;
    },
    serve(subject, handler) {
      handlers.set(subject, handler as (req: unknown, headers: EventHeaders) => unknown);
      return { unsubscribe: () => handlers.delete(subject) };
    },
    async ping() {
      if (!bus.up) throw new Error('connection refused');
    },
    async close() {},
  };
  return bus;
}
