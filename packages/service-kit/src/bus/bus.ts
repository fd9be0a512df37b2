/**
 * The Bus: the only way services talk to each other. Two adapters implement
 * it with the same semantics, NATS (`nats-bus.ts`) and in-memory
 * (`memory-bus.ts`); `bus.contract.ts` is one test suite run against both.
 *
 * Subjects given to and received from a Bus never include the deployment
 * prefix: the adapter adds `<prefix>.` on the wire and strips it on receipt.
 */
import type { AnyEventEnvelope, EventHeaders, StreamKey } from '@parley/contracts';

export interface StreamDefinition {
  /** Stream name without prefix, e.g. `MESSAGE` (the adapter prefixes it). */
  name: string;
  subjects: readonly string[];
  /** JetStream replicas (1 on a single server). */
  replicas?: number;
  /** Max age of stored events in ms (default 7 days). */
  maxAgeMs?: number;
  /** Window in which `Nats-Msg-Id` de-duplicates (default 2 min). */
  duplicateWindowMs?: number;
}

/** A durable event delivered to a consumer. Ack, nak or term exactly once. */
export interface DeliveredEvent {
  subject: string;
  event: AnyEventEnvelope;
  headers: EventHeaders;
  /** 1 on first delivery, incremented on each redelivery. */
  deliveryCount: number;
  /** Stream sequence (monotonic per stream). */
  streamSeq: number;
  /** Extends the ack deadline during long work. */
  working(): void;
}

export interface DurableConsumerOptions {
  /** Stream key from contracts' STREAMS, e.g. `message`. */
  stream: StreamKey;
  /** Durable name, unique per consuming service and purpose, e.g. `notification-messages`. */
  durable: string;
  /** One subject filter (nats-server 2.9 has no multi-filter consumers), e.g. `message.*.created`. */
  filter: string;
  /** Max deliveries before the event is dead-lettered (default 5). */
  maxDeliver?: number;
  /** Backoff between redeliveries in ms (default [200, 1000, 5000, 15000]). */
  backoffMs?: number[];
  /** Ack wait in ms (default 30 000). */
  ackWaitMs?: number;
  /** Max unacked events in flight (default 256). */
  maxAckPending?: number;
  /** Concurrent handler calls (default 1: events handled in stream order). */
  concurrency?: number;
  /** Where to start a new durable: `all` (default) or `new`. */
  deliverPolicy?: 'all' | 'new';
}

/**
 * Handler of a durable consumer. Resolve to ack; throw to nak with backoff.
 * An event that fails `maxDeliver` times (or fails schema validation) is
 * recorded on the dead-letter subject `deadletter.<durable>` and acked, so it
 * never blocks the consumer.
 */
export type DurableHandler = (msg: DeliveredEvent) => Promise<void>;

export interface ConsumerHandle {
  readonly durable: string;
  /** Events stored but not yet delivered to this consumer (lag). */
  pending(): Promise<number>;
  stop(): Promise<void>;
}

export interface LiveMessage<T = unknown> {
  subject: string;
  data: T;
  headers: EventHeaders;
}
export type LiveHandler<T = unknown> = (msg: LiveMessage<T>) => void | Promise<void>;

export interface Subscription {
  unsubscribe(): void;
}

export interface PublishDurableOptions {
  headers?: EventHeaders;
  /**
   * The envelope was built by `makeEvent` (which validated it) and not changed
   * since, as the outbox's rows are: skip validating it again. Callers
   * holding anything else leave it unset, and the adapter validates.
   */
  validated?: boolean;
  /**
   * Attempts before giving up (default: the adapter's own, e.g. NATS'
   * `publishAttempts`). A caller that pipelines one subject's events (the
   * outbox) passes 1 and retries the failed event and all later ones itself,
   * in order, rather than have retries land after later events.
   */
  attempts?: number;
}

export interface Bus {
  /** Idempotently creates or updates a stream. */
  ensureStream(def: StreamDefinition): Promise<void>;
  /**
   * Publishes a durable event to JetStream with `Nats-Msg-Id = event.id`, and
   * resolves once the server acknowledged it. Retrying with the same event is
   * safe (de-duplicated inside the duplicate window).
   */
  publishDurable(subject: string, event: AnyEventEnvelope, opts?: PublishDurableOptions): Promise<void>;
  /** Starts (creating if needed) a durable pull consumer. Recreated after server restarts. */
  consume(opts: DurableConsumerOptions, handler: DurableHandler): Promise<ConsumerHandle>;
  /** Core publish (ephemeral; may be lost at a disconnect). */
  publish(subject: string, data: unknown, headers?: EventHeaders): void;
  /** Core subscribe with `*`/`>` wildcards, optional queue group. */
  subscribe<T = unknown>(subject: string, handler: LiveHandler<T>, opts?: { queue?: string }): Subscription;
  /** Request/reply with timeout; rejects with BusTimeoutError / BusNoRespondersError. */
  request<T = unknown>(
    subject: string,
    data: unknown,
    opts?: { timeoutMs?: number; headers?: EventHeaders },
  ): Promise<T>;
  /** Serves request/reply in a queue group (default queue: the subject). Handler errors reply `{ error }`. */
  serve<Req = unknown, Res = unknown>(
    subject: string,
    handler: (req: Req, headers: EventHeaders) => Promise<Res> | Res,
    opts?: { queue?: string },
  ): Subscription;
  /** Resolves if the server answers (used by /readyz). */
  ping(): Promise<void>;
  /** Drains subscriptions and closes. */
  close(): Promise<void>;
}

export class BusTimeoutError extends Error {
  constructor(subject: string) {
    super(`bus request to ${subject} timed out`);
    this.name = 'BusTimeoutError';
  }
}
export class BusNoRespondersError extends Error {
  constructor(subject: string) {
    super(`no responders for ${subject}`);
    this.name = 'BusNoRespondersError';
  }
}
/** A serve() handler failed; the message is what the handler threw. */
export class BusRemoteError extends Error {
  constructor(
    subject: string,
    readonly remoteMessage: string,
    readonly remoteCode?: string,
  ) {
    super(`${subject}: ${remoteMessage}`);
    this.name = 'BusRemoteError';
  }
}
