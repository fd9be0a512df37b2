/**
 * The Bus on NATS core + JetStream (nats.js v2, nats-server 2.9 and later).
 *
 * Why it looks the way it does:
 * - Every subject and stream name carries the deployment prefix
 *   (`<prefix>.message.c1.created`, stream `<PREFIX>_MESSAGE`) so several
 *   deployments, or test files, share one server without seeing each other.
 *   Both are stable: changing the prefix orphans the stored streams.
 * - A JetStream publish can time out although the server stored it
 *   (PITFALLS.md), so `publishDurable` retries with the SAME `Nats-Msg-Id`
 *   (the event id) and lets the stream de-duplicate.
 * - Consumers are durable pull consumers driven by our own fetch loop rather
 *   than nats.js' `consume()`: each fetch is a fresh request, so a restarted
 *   server, a deleted consumer or missed heartbeats end one fetch, and the
 *   loop re-checks (and if needed recreates) the consumer and stream before
 *   the next one. Fetched messages go to a local queue whose waiting entries
 *   get `working()` so they are not redelivered while they wait for a slot.
 * - Redelivery backoff is applied by the client with `nak(delay)`, not with
 *   the server's `backoff` list: on 2.9 a server `backoff` replaces
 *   `ack_wait` by its first step, which would redeliver any handler slower
 *   than 200 ms.
 * - After `maxDeliver` failures the event is published as a dead-letter
 *   record on core `deadletter.<durable>` and terminated, so it never blocks
 *   the consumer. An event whose last delivery timed out (no ack) is caught
 *   from the server's MAX_DELIVERIES advisory and recorded the same way.
 */
import {
  type AnyEventEnvelope,
  type EventHeaders,
  HEADERS,
  parseEvent,
  STREAMS,
  type StreamKey,
  typeOfSubject,
} from '@parley/contracts';
import {
  AckPolicy,
  type ConsumerConfig,
  ConsumerEvents,
  type ConsumerMessages,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  ErrorCode,
  Events,
  headers as natsHeaders,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgHdrs,
  NatsError,
  type NatsConnection,
  nanos,
  ReplayPolicy,
  RetentionPolicy,
  type StreamConfig,
  StorageType,
} from 'nats';
import pino, { type Logger } from 'pino';
import {
  type Bus,
  BusNoRespondersError,
  BusRemoteError,
  BusTimeoutError,
  type ConsumerHandle,
  type DeliveredEvent,
  type DurableConsumerOptions,
  type DurableHandler,
  type LiveHandler,
  type PublishDurableOptions,
  type StreamDefinition,
  type Subscription,
} from './bus';
import { backoffAfter, type ResolvedConsumerOptions, resolveConsumerOptions } from './consumer-options';
import { deadLetterSubject, errorMessage, logDeadLetter, makeDeadLetter } from './dead-letter';
import { isValidPattern, isValidSubject, matchSubject } from './subject-match';

export interface NatsBusOptions {
  /** `nats://host:port`, or several separated by commas. */
  url: string;
  /** Deployment prefix of every subject and stream (default `parley`). */
  prefix?: string;
  /** Connection name shown by the server (default `parley-<prefix>`). */
  name?: string;
  logger?: Logger;
  /** Replicas of streams whose definition does not say (default 1). */
  streamReplicas?: number;
  /** Time to wait for one JetStream publish ack (default 2000 ms). */
  publishTimeoutMs?: number;
  /** Attempts of one durable publish before giving up (default 5). */
  publishAttempts?: number;
  /** Expiry of one pull request; bounds how long a lost consumer goes unnoticed (default 5000 ms, min 1000). */
  fetchExpiresMs?: number;
}

const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
const DEFAULT_REQUEST_TIMEOUT_MS = 2000;
const RPC_ERROR_HEADER = 'parley-rpc-error';
/** JetStream API error codes (nats-server `errors.json`). */
const JS_STREAM_NOT_FOUND = 10059;
const JS_CONSUMER_NOT_FOUND = 10014;
const JS_STREAM_NAME_IN_USE = 10058;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encode(data: unknown): Uint8Array {
  return data === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(data));
}
function decode<T>(bytes: Uint8Array): T {
  return (bytes.length === 0 ? undefined : JSON.parse(decoder.decode(bytes))) as T;
}
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
function jitter(ms: number): number {
  return Math.round(ms * (0.75 + Math.random() * 0.5));
}
function apiErrorCode(err: unknown): number | undefined {
  return err instanceof NatsError ? err.api_error?.err_code : undefined;
}

/** `<PREFIX>_<NAME>`: stream names allow no dots or wildcards, so the prefix is sanitized. */
export function natsStreamName(prefix: string, name: string): string {
  return `${prefix}_${name}`.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase();
}

export async function createNatsBus(options: NatsBusOptions): Promise<Bus> {
  const prefix = options.prefix ?? 'parley';
  if (!isValidSubject(prefix)) throw new Error(`invalid bus prefix: ${JSON.stringify(prefix)}`);
  const logger = (options.logger ?? pino({ level: 'warn' })).child({ component: 'nats-bus', prefix });
  const replicas = options.streamReplicas ?? 1;
  const publishTimeoutMs = options.publishTimeoutMs ?? 2000;
  const publishAttempts = Math.max(1, options.publishAttempts ?? 5);
  const fetchExpiresMs = Math.max(1000, options.fetchExpiresMs ?? 5000);

  const nc: NatsConnection = await connect({
    servers: options.url.split(',').map((s) => s.trim()),
    name: options.name ?? `parley-${prefix}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    reconnectJitterTLS: 1000,
    timeout: 5000,
    // nats.js otherwise captures two stack traces (new Error) per request and
    // JetStream publish, for errors that this adapter rewraps anyway: ~5 % of
    // an outbox relay's CPU (scripts/outbox-relay-bench.ts).
    noAsyncTraces: true,
  });
  const js: JetStreamClient = nc.jetstream();
  let jsm: JetStreamManager;
  try {
    jsm = await nc.jetstreamManager();
  } catch (err) {
    await nc.close();
    throw new Error(`JetStream unavailable at ${options.url}: ${errorMessage(err)}`);
  }

  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) logger.warn({ server: s.data }, 'nats disconnected');
      else if (s.type === Events.Reconnect) logger.info({ server: s.data }, 'nats reconnected');
      else if (s.type === Events.Error) logger.error({ err: String(s.data) }, 'nats error');
    }
  })().catch(() => {});

  const wire = (subject: string) => `${prefix}.${subject}`;
  const unwire = (subject: string) => (subject.startsWith(`${prefix}.`) ? subject.slice(prefix.length + 1) : subject);
  const streamName = (name: string) => natsStreamName(prefix, name);
  /** Definitions this bus ensured, used to recreate a stream lost with a server's store. */
  const ensured = new Map<string, StreamDefinition>();
  const runners = new Set<ConsumerRunner>();
  let closing = false;

  function assertSubject(subject: string): void {
    if (!isValidSubject(subject)) throw new Error(`invalid subject: ${JSON.stringify(subject)}`);
  }

  function toNatsHeaders(h: EventHeaders | undefined, eventType?: string): MsgHdrs | undefined {
    if (!h?.requestId && !h?.traceparent && !eventType) return undefined;
    const out = natsHeaders();
    if (h?.requestId) out.set(HEADERS.requestId, h.requestId);
    if (h?.traceparent) out.set(HEADERS.traceparent, h.traceparent);
    if (eventType) out.set(HEADERS.eventType, eventType);
    return out;
  }
  function fromNatsHeaders(h: MsgHdrs | undefined): EventHeaders {
    const out: EventHeaders = {};
    const requestId = h?.get(HEADERS.requestId);
    const traceparent = h?.get(HEADERS.traceparent);
    if (requestId) out.requestId = requestId;
    if (traceparent) out.traceparent = traceparent;
    return out;
  }

  // ---- streams -------------------------------------------------------------

  async function ensureStreamConfig(def: StreamDefinition): Promise<void> {
    if (!/^[A-Za-z0-9_-]+$/.test(def.name)) throw new Error(`invalid stream name: ${def.name}`);
    for (const s of def.subjects) {
      if (!isValidPattern(s)) throw new Error(`stream ${def.name}: invalid subject ${s}`);
    }
    const name = streamName(def.name);
    const maxAgeMs = def.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    const want = {
      subjects: def.subjects.map(wire),
      max_age: nanos(maxAgeMs),
      duplicate_window: nanos(Math.min(def.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS, maxAgeMs)),
      num_replicas: def.replicas ?? replicas,
    };
    const update = async () => {
      const info = await jsm.streams.info(name);
      const c = info.config;
      const same =
        c.subjects.length === want.subjects.length &&
        c.subjects.every((s, i) => s === want.subjects[i]) &&
        c.max_age === want.max_age &&
        c.duplicate_window === want.duplicate_window &&
        c.num_replicas === want.num_replicas;
      if (!same) {
        await jsm.streams.update(name, want);
        logger.info({ stream: name }, 'stream updated');
      }
    };
    try {
      await update();
    } catch (err) {
      if (apiErrorCode(err) !== JS_STREAM_NOT_FOUND) throw err;
      const config: Partial<StreamConfig> = {
        name,
        ...want,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
      };
      try {
        await jsm.streams.add(config);
        logger.info({ stream: name }, 'stream created');
      } catch (addErr) {
        // Another replica created it in between: converge on our config.
        if (apiErrorCode(addErr) !== JS_STREAM_NAME_IN_USE) throw addErr;
        await update();
      }
    }
  }

  /** A consumer may start before the stream's owner ensured it: create it (never alter it) if missing. */
  async function ensureStreamExists(key: StreamKey): Promise<{ createdAt: string; lastSeq: number }> {
    const def = STREAMS[key];
    const name = streamName(def.name);
    try {
      const info = await jsm.streams.info(name);
      return { createdAt: info.created, lastSeq: info.state.last_seq };
    } catch (err) {
      if (apiErrorCode(err) !== JS_STREAM_NOT_FOUND) throw err;
      await ensureStreamConfig(ensured.get(def.name) ?? { name: def.name, subjects: def.subjects });
      const info = await jsm.streams.info(name);
      return { createdAt: info.created, lastSeq: info.state.last_seq };
    }
  }

  /** The stream this bus ensured that stores `subject`, if any (to recreate it after a lost store). */
  function ensuredStreamFor(subject: string): StreamDefinition | undefined {
    for (const def of ensured.values()) if (def.subjects.some((p) => matchSubject(p, subject))) return def;
    return undefined;
  }

  // ---- durable consumers -----------------------------------------------------

  function consumerConfig(o: ResolvedConsumerOptions): Partial<ConsumerConfig> {
    return {
      durable_name: o.durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(o.ackWaitMs),
      max_deliver: o.maxDeliver,
      max_ack_pending: o.maxAckPending,
      filter_subject: wire(o.filter),
      replay_policy: ReplayPolicy.Instant,
    };
  }

  /**
   * Creates the durable, or updates what may change on an existing one (its
   * start position is kept). `startSeq` recreates a lost consumer just
   * before the first event this process has not settled.
   */
  async function ensureConsumer(
    o: ResolvedConsumerOptions,
    resume?: { seq: number; streamCreatedAt: string },
  ): Promise<{ streamCreatedAt: string }> {
    const streamState = await ensureStreamExists(o.stream);
    // A stream that was itself lost and recreated (or purged) starts over: resuming
    // at our old position would skip its new events.
    const startSeq =
      resume && resume.streamCreatedAt === streamState.createdAt && streamState.lastSeq >= resume.seq - 1
        ? resume.seq
        : undefined;
    const result = { streamCreatedAt: streamState.createdAt };
    const stream = streamName(STREAMS[o.stream].name);
    const want = consumerConfig(o);
    const update = async () => {
      const info = await jsm.consumers.info(stream, o.durable);
      const c = info.config;
      if (
        c.ack_wait !== want.ack_wait ||
        c.max_deliver !== want.max_deliver ||
        c.max_ack_pending !== want.max_ack_pending ||
        c.filter_subject !== want.filter_subject
      ) {
        await jsm.consumers.update(stream, o.durable, {
          ack_wait: want.ack_wait,
          max_deliver: want.max_deliver,
          max_ack_pending: want.max_ack_pending,
          filter_subject: want.filter_subject,
        });
        logger.info({ stream, durable: o.durable }, 'consumer updated');
      }
    };
    try {
      await update();
      return result;
    } catch (err) {
      if (apiErrorCode(err) !== JS_CONSUMER_NOT_FOUND) throw err;
    }
    const start: Partial<ConsumerConfig> =
      startSeq !== undefined
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }
        : { deliver_policy: o.deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All };
    try {
      await jsm.consumers.add(stream, { ...want, ...start });
      logger.info({ stream, durable: o.durable, startSeq }, 'consumer created');
    } catch (err) {
      // Created concurrently by another instance with another start: use it.
      await update().catch(() => {
        throw err;
      });
    }
    return result;
  }

  async function publishDeadLetter(
    o: ResolvedConsumerOptions,
    init: { subject: string; streamSeq: number; deliveryCount: number; headers: EventHeaders },
    reason: 'max_deliver' | 'invalid_event',
    error: unknown,
    payload: Uint8Array | undefined,
  ): Promise<void> {
    let event: unknown = null;
    if (payload) {
      try {
        event = decode(payload);
      } catch {
        event = decoder.decode(payload);
      }
    }
    const record = makeDeadLetter({
      durable: o.durable,
      stream: o.stream,
      subject: init.subject,
      streamSeq: init.streamSeq,
      deliveryCount: init.deliveryCount,
      reason,
      error,
      event,
    });
    logDeadLetter(logger, record);
    try {
      nc.publish(wire(deadLetterSubject(o.durable)), encode(record), { headers: toNatsHeaders(init.headers) });
    } catch (err) {
      logger.error({ durable: o.durable, err: errorMessage(err) }, 'dead-letter record not published');
    }
  }

  class ConsumerRunner {
    private stopped = false;
    private iter: ConsumerMessages | null = null;
    private readonly queue: JsMsg[] = [];
    private readonly inflight = new Set<Promise<void>>();
    private wake: (() => void) | null = null;
    private loop: Promise<void> = Promise.resolve();
    private keepAlive: NodeJS.Timeout | null = null;
    private advisory: Subscription | null = null;
    /** Stream seqs delivered here and not yet acked or terminated, and the highest settled one. */
    private readonly unsettled = new Set<number>();
    private maxSettled = 0;
    readonly stream: string;

    constructor(
      readonly o: ResolvedConsumerOptions,
      private readonly handler: DurableHandler,
      /** Creation time of the stream the consumer was made on: tells a restarted stream from the same one. */
      private streamCreatedAt: string | null,
    ) {
      this.stream = streamName(STREAMS[o.stream].name);
    }

    start(): void {
      this.loop = this.fetchLoop();
      // Messages waiting in our queue must not hit ack_wait while earlier ones run.
      this.keepAlive = setInterval(
        () => {
          for (const m of this.queue) m.working();
        },
        Math.max(100, Math.floor(this.o.ackWaitMs / 3)),
      );
      this.keepAlive.unref();
      this.watchMaxDeliveries();
    }

    /** Records events the server gave up on because their last delivery was never acked. */
    private watchMaxDeliveries(): void {
      const subject = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.stream}.${this.o.durable}`;
      const sub = nc.subscribe(subject, {
        queue: `dlq-${this.o.durable}`,
        callback: (err, msg) => {
          if (err) return;
          void (async () => {
            const adv = decode<{ stream_seq: number; deliveries: number }>(msg.data);
            const stored = await jsm.streams.getMessage(this.stream, { seq: adv.stream_seq }).catch(() => null);
            await publishDeadLetter(
              this.o,
              {
                subject: stored ? unwire(stored.subject) : '',
                streamSeq: adv.stream_seq,
                deliveryCount: adv.deliveries,
                headers: fromNatsHeaders(stored?.header),
              },
              'max_deliver',
              new Error('ack wait exceeded on the last delivery'),
              stored?.data,
            );
          })().catch((e) => logger.error({ err: errorMessage(e) }, 'max-deliveries advisory not recorded'));
        },
      });
      this.advisory = { unsubscribe: () => sub.unsubscribe() };
    }

    private batchSize(): number {
      return Math.min(this.o.maxAckPending, Math.max(8, this.o.concurrency * 4));
    }

    private signal(): void {
      const w = this.wake;
      this.wake = null;
      w?.();
    }

    private async waitForRoom(): Promise<void> {
      while (!this.stopped && this.queue.length > 0) {
        await new Promise<void>((r) => {
          this.wake = r;
        });
      }
    }

    private async fetchLoop(): Promise<void> {
      let failures = 0;
      let recheck = false;
      while (!this.stopped) {
        try {
          if (recheck) {
            const seq = this.resumeSeq();
            const ensuredNow = await ensureConsumer(
              this.o,
              seq !== undefined && this.streamCreatedAt ? { seq, streamCreatedAt: this.streamCreatedAt } : undefined,
            );
            this.streamCreatedAt = ensuredNow.streamCreatedAt;
            recheck = false;
          }
          const consumer = await js.consumers.get(this.stream, this.o.durable);
          while (!this.stopped) {
            await this.waitForRoom();
            if (this.stopped) break;
            const room = this.batchSize() - this.inflight.size;
            const iter = await consumer.fetch({ max_messages: Math.max(1, room), expires: fetchExpiresMs });
            this.iter = iter;
            if (this.stopped) {
              await iter.close();
              break;
            }
            let lost = false;
            void (async () => {
              for await (const s of await iter.status()) {
                const gone =
                  s.type === ConsumerEvents.ConsumerDeleted ||
                  s.type === ConsumerEvents.ConsumerNotFound ||
                  s.type === ConsumerEvents.StreamNotFound ||
                  s.type === ConsumerEvents.NoResponders ||
                  (s.type === ConsumerEvents.HeartbeatsMissed && Number(s.data) >= 2);
                if (gone) {
                  lost = true;
                  logger.warn({ durable: this.o.durable, status: s.type }, 'consumer lost; rechecking');
                  await iter.close();
                }
              }
            })().catch(() => {});
            for await (const m of iter) {
              if (this.stopped) {
                m.nak();
                continue;
              }
              this.queue.push(m);
              this.pump();
            }
            this.iter = null;
            failures = 0;
            if (lost) throw new Error('consumer lost');
          }
        } catch (err) {
          this.iter = null;
          if (this.stopped) break;
          failures += 1;
          recheck = true;
          const code = apiErrorCode(err);
          logger.warn(
            { durable: this.o.durable, err: errorMessage(err), code, failures },
            'consumer fetch failed; retrying',
          );
          await sleep(jitter(Math.min(200 * 2 ** Math.min(failures - 1, 5), 5000)));
        }
      }
    }

    /** Where to restart a consumer that vanished: the first event not settled here. */
    private resumeSeq(): number | undefined {
      if (this.unsettled.size === 0 && this.maxSettled === 0) return undefined;
      return Math.min(this.maxSettled + 1, ...this.unsettled);
    }

    /**
     * Starts handlers in the order fetched (stream order), and handle() calls
     * the handler before its first await: with concurrency > 1 the handlers
     * are still CALLED in stream order, which consumers.on() relies on to
     * apply a batch in order (consumers.batch.test.ts checks it).
     */
    private pump(): void {
      while (this.inflight.size < this.o.concurrency && this.queue.length > 0) {
        const m = this.queue.shift()!;
        const p: Promise<void> = this.handle(m).finally(() => {
          this.inflight.delete(p);
          this.pump();
        });
        this.inflight.add(p);
      }
      if (this.queue.length === 0) this.signal();
    }

    private settled(seq: number): void {
      this.unsettled.delete(seq);
      if (seq > this.maxSettled) this.maxSettled = seq;
    }

    private async handle(m: JsMsg): Promise<void> {
      const seq = m.info.streamSequence;
      const deliveryCount = m.info.deliveryCount;
      const subject = unwire(m.subject);
      const headers = fromNatsHeaders(m.headers);
      this.unsettled.add(seq);
      let event: AnyEventEnvelope;
      try {
        event = parseEvent(decode(m.data));
      } catch (err) {
        await publishDeadLetter(
          this.o,
          { subject, streamSeq: seq, deliveryCount, headers },
          'invalid_event',
          err,
          m.data,
        );
        m.term(); // no reason: nats-server 2.9 ignores a +TERM that carries one
        this.settled(seq);
        return;
      }
      const delivered: DeliveredEvent = {
        subject,
        event,
        headers,
        deliveryCount,
        streamSeq: seq,
        working: () => m.working(),
      };
      try {
        await this.handler(delivered);
      } catch (err) {
        if (deliveryCount >= this.o.maxDeliver) {
          await publishDeadLetter(
            this.o,
            { subject, streamSeq: seq, deliveryCount, headers },
            'max_deliver',
            err,
            m.data,
          );
          m.term();
          this.settled(seq);
        } else {
          logger.warn(
            {
              durable: this.o.durable,
              eventId: event.id,
              eventType: event.type,
              deliveryCount,
              err: errorMessage(err),
            },
            'event handler failed; will redeliver',
          );
          m.nak(backoffAfter(deliveryCount, this.o.backoffMs));
        }
        return;
      }
      m.ack();
      this.settled(seq);
    }

    async pending(): Promise<number> {
      const info = await jsm.consumers.info(this.stream, this.o.durable);
      return info.num_pending + info.num_ack_pending;
    }

    async stop(): Promise<void> {
      if (this.stopped) return;
      this.stopped = true;
      this.signal();
      if (this.keepAlive) clearInterval(this.keepAlive);
      this.advisory?.unsubscribe();
      await this.iter?.close().catch(() => {});
      // Hand what we fetched but did not start back to the server at once.
      for (const m of this.queue.splice(0)) m.nak();
      await Promise.allSettled([...this.inflight]);
      await this.loop;
    }
  }

  // ---- the Bus ---------------------------------------------------------------

  const bus: Bus = {
    async ensureStream(def) {
      await ensureStreamConfig(def);
      ensured.set(def.name, def);
    },

    async publishDurable(subject: string, event: AnyEventEnvelope, opts?: PublishDurableOptions) {
      assertSubject(subject);
      const checked = opts?.validated ? event : parseEvent(event);
      if (typeOfSubject(subject) !== checked.type) {
        throw new Error(`event ${checked.type} published on subject ${subject} of another type`);
      }
      const data = encode(event);
      const h = toNatsHeaders(opts?.headers, checked.type);
      const attempts = Math.max(1, opts?.attempts ?? publishAttempts);
      for (let attempt = 1; ; attempt++) {
        try {
          await js.publish(wire(subject), data, { msgID: checked.id, headers: h, timeout: publishTimeoutMs });
          return;
        } catch (err) {
          const code = err instanceof NatsError ? err.code : undefined;
          // Timeout: maybe stored; 503: JetStream not answering yet (reconnect) or no stream for the subject.
          const retryable = code === ErrorCode.Timeout || code === ErrorCode.NoResponders;
          if (!retryable || attempt >= attempts || closing) {
            if (code === ErrorCode.NoResponders) {
              throw new Error(`no stream stores subject ${subject} (or JetStream unavailable)`, { cause: err });
            }
            throw err;
          }
          logger.warn({ subject, eventId: checked.id, attempt, code }, 'durable publish not acked; retrying same id');
          await sleep(jitter(Math.min(100 * 2 ** (attempt - 1), 2000)));
          const def = code === ErrorCode.NoResponders ? ensuredStreamFor(subject) : undefined;
          if (def) {
            // The stream this bus ensured is gone (server store lost): put it back before retrying.
            await ensureStreamConfig(def).catch((e) =>
              logger.warn({ stream: def.name, err: errorMessage(e) }, 'stream not recreated'),
            );
          }
        }
      }
    },

    async consume(opts: DurableConsumerOptions, handler: DurableHandler): Promise<ConsumerHandle> {
      if (closing) throw new Error('bus is closed');
      const o = resolveConsumerOptions(opts);
      const { streamCreatedAt } = await ensureConsumer(o);
      const runner = new ConsumerRunner(o, handler, streamCreatedAt);
      runners.add(runner);
      runner.start();
      return {
        durable: o.durable,
        pending: () => runner.pending(),
        async stop() {
          await runner.stop();
          runners.delete(runner);
        },
      };
    },

    publish(subject: string, data: unknown, headers?: EventHeaders) {
      assertSubject(subject);
      nc.publish(wire(subject), encode(data), { headers: toNatsHeaders(headers) });
    },

    subscribe<T = unknown>(subject: string, handler: LiveHandler<T>, opts?: { queue?: string }): Subscription {
      if (!isValidPattern(subject)) throw new Error(`invalid subject pattern: ${JSON.stringify(subject)}`);
      const sub = nc.subscribe(wire(subject), {
        queue: opts?.queue,
        callback: (err, msg) => {
          if (err) {
            logger.error({ subject, err: errorMessage(err) }, 'subscription failed');
            return;
          }
          let data: T;
          try {
            data = decode<T>(msg.data);
          } catch {
            logger.warn({ subject: msg.subject }, 'dropped a message that is not JSON');
            return;
          }
          try {
            const r = handler({ subject: unwire(msg.subject), data, headers: fromNatsHeaders(msg.headers) });
            if (r instanceof Promise) {
              r.catch((e) => logger.error({ subject: msg.subject, err: errorMessage(e) }, 'subscriber failed'));
            }
          } catch (e) {
            logger.error({ subject: msg.subject, err: errorMessage(e) }, 'subscriber failed');
          }
        },
      });
      return { unsubscribe: () => sub.unsubscribe() };
    },

    async request<T = unknown>(
      subject: string,
      data: unknown,
      opts?: { timeoutMs?: number; headers?: EventHeaders },
    ): Promise<T> {
      assertSubject(subject);
      let reply: Awaited<ReturnType<NatsConnection['request']>>;
      try {
        reply = await nc.request(wire(subject), encode(data), {
          timeout: opts?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
          headers: toNatsHeaders(opts?.headers),
        });
      } catch (err) {
        const code = err instanceof NatsError ? err.code : undefined;
        if (code === ErrorCode.NoResponders) throw new BusNoRespondersError(subject);
        if (code === ErrorCode.Timeout) throw new BusTimeoutError(subject);
        throw err;
      }
      if (reply.headers?.get(RPC_ERROR_HEADER)) {
        const body = decode<{ error?: { message?: string; code?: string } }>(reply.data);
        throw new BusRemoteError(subject, body?.error?.message ?? 'remote error', body?.error?.code);
      }
      return decode<T>(reply.data);
    },

    serve<Req = unknown, Res = unknown>(
      subject: string,
      handler: (req: Req, headers: EventHeaders) => Promise<Res> | Res,
      opts?: { queue?: string },
    ): Subscription {
      assertSubject(subject);
      const sub = nc.subscribe(wire(subject), {
        queue: opts?.queue ?? subject,
        callback: (err, msg) => {
          if (err) {
            logger.error({ subject, err: errorMessage(err) }, 'rpc subscription failed');
            return;
          }
          void (async () => {
            try {
              const res = await handler(decode<Req>(msg.data), fromNatsHeaders(msg.headers));
              if (msg.reply) msg.respond(encode(res));
            } catch (e) {
              const code = (e as { code?: unknown })?.code;
              logger.warn({ subject, err: errorMessage(e) }, 'rpc handler failed');
              if (msg.reply) {
                const h = natsHeaders();
                h.set(RPC_ERROR_HEADER, '1');
                msg.respond(
                  encode({ error: { message: errorMessage(e), code: typeof code === 'string' ? code : undefined } }),
                  { headers: h },
                );
              }
            }
          })().catch((e) => logger.error({ subject, err: errorMessage(e) }, 'rpc reply failed'));
        },
      });
      return { unsubscribe: () => sub.unsubscribe() };
    },

    async ping() {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          nc.rtt(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('nats ping timed out')), 2000);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },

    async close() {
      if (closing) return;
      closing = true;
      await Promise.allSettled([...runners].map((r) => r.stop()));
      runners.clear();
      if (!nc.isClosed()) {
        await nc.drain().catch(async (err) => {
          logger.warn({ err: errorMessage(err) }, 'nats drain failed; closing');
          await nc.close();
        });
      }
    },
  };
  return bus;
}
