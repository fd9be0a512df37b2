/**
 * Defaults and checks for durable consumers, shared by both adapters so that
 * a consumer misconfigured in standalone mode fails the same way it would
 * against NATS (at `consume()`, with a message naming the option), and so the
 * two adapters redeliver on the same schedule.
 */
import { STREAMS, type StreamKey } from '@parley/contracts';
import type { DurableConsumerOptions } from './bus';
import { isValidPattern, patternCovers } from './subject-match';

export interface ResolvedConsumerOptions {
  stream: StreamKey;
  durable: string;
  filter: string;
  maxDeliver: number;
  backoffMs: number[];
  ackWaitMs: number;
  maxAckPending: number;
  concurrency: number;
  deliverPolicy: 'all' | 'new';
}

export const CONSUMER_DEFAULTS = {
  maxDeliver: 5,
  backoffMs: [200, 1000, 5000, 15000],
  ackWaitMs: 30_000,
  maxAckPending: 256,
  concurrency: 1,
  deliverPolicy: 'all',
} as const;

/** JetStream consumer names may not contain `.`, `*`, `>` or whitespace; we keep them simple. */
const DURABLE_RE = /^[A-Za-z0-9_-]{1,64}$/;

function positiveInt(name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`consumer option ${name}: expected an integer >= ${min}, got ${value}`);
  }
  return value;
}

export function resolveConsumerOptions(o: DurableConsumerOptions): ResolvedConsumerOptions {
  const stream = STREAMS[o.stream];
  if (!stream) throw new Error(`consumer option stream: unknown stream key ${String(o.stream)}`);
  if (!DURABLE_RE.test(o.durable)) {
    throw new Error(`consumer option durable: ${JSON.stringify(o.durable)} must be 1-64 chars of A-Z a-z 0-9 _ -`);
  }
  if (!isValidPattern(o.filter)) throw new Error(`consumer option filter: invalid subject pattern ${o.filter}`);
  if (!stream.subjects.some((s) => patternCovers(s, o.filter))) {
    throw new Error(
      `consumer option filter: ${o.filter} is outside stream ${o.stream} (${stream.subjects.join(', ')})`,
    );
  }
  const backoffMs = [...(o.backoffMs ?? CONSUMER_DEFAULTS.backoffMs)];
  if (backoffMs.length === 0 || backoffMs.some((b) => !Number.isFinite(b) || b < 0)) {
    throw new Error('consumer option backoffMs: expected a non-empty list of delays >= 0');
  }
  const deliverPolicy = o.deliverPolicy ?? CONSUMER_DEFAULTS.deliverPolicy;
  if (deliverPolicy !== 'all' && deliverPolicy !== 'new') {
    throw new Error(`consumer option deliverPolicy: expected all or new, got ${String(deliverPolicy)}`);
  }
  return {
    stream: o.stream,
    durable: o.durable,
    filter: o.filter,
    maxDeliver: positiveInt('maxDeliver', o.maxDeliver ?? CONSUMER_DEFAULTS.maxDeliver),
    backoffMs,
    ackWaitMs: positiveInt('ackWaitMs', o.ackWaitMs ?? CONSUMER_DEFAULTS.ackWaitMs, 100),
    maxAckPending: positiveInt('maxAckPending', o.maxAckPending ?? CONSUMER_DEFAULTS.maxAckPending),
    concurrency: positiveInt('concurrency', o.concurrency ?? CONSUMER_DEFAULTS.concurrency),
    deliverPolicy,
  };
}

/** Delay before redelivering after the `deliveryCount`-th delivery failed (the last step repeats). */
export function backoffAfter(deliveryCount: number, backoffMs: readonly number[]): number {
  const i = Math.min(Math.max(deliveryCount - 1, 0), backoffMs.length - 1);
  return backoffMs[i] ?? 0;
}
