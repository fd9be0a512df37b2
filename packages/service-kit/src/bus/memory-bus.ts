/**
 * In-process Bus for the standalone mode and for unit tests. It has to behave
 * like nats-server + JetStream, not merely look like it, because services are
 * developed against it and then run against NATS: payloads are JSON-copied
 * (no shared objects, no non-JSON values), deliveries are asynchronous,
 * queue groups give each message to one member, durable events are stored,
 * de-duplicated by event id inside the duplicate window, redelivered after a
 * nak (with backoff) or an ack-wait timeout, dead-lettered after
 * `maxDeliver`, and also seen by core subscribers. `bus.contract.ts` runs the
 * same suite against this and the NATS adapter.
 *
 * Memory is bounded: each stream keeps at most `maxMessagesPerStream` events
 * (oldest dropped, like a NATS `max_msgs` limit) and none older than its
 * max age.
 */
import {
  type AnyEventEnvelope,
  type EventHeaders,
  parseEvent,
  STREAMS,
  type StreamKey,
  typeOfSubject,
} from '@parley/contracts';
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
import { isValidPattern, isValidSubject, matchSubject, patternCovers, SubjectIndex } from './subject-match';

export type { DeadLetterRecord } from './dead-letter';

export interface MemoryBusOptions {
  /** Deployment prefix; kept for parity with NATS (one memory bus is one deployment). */
  prefix?: string;
  /** Where dead letters and handler failures are logged (default: pino at warn). */
  logger?: Logger;
  /** Events kept per stream before the oldest are dropped (default 100 000). */
  maxMessagesPerStream?: number;
}

const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
const DEFAULT_REQUEST_TIMEOUT_MS = 2000;

type RpcReply = { ok: true; json: string | undefined } | { ok: false; message: string; code?: string };

interface WireMessage {
  subject: string;
  /** JSON text, or undefined for an empty payload. */
  json: string | undefined;
  headers: EventHeaders;
  reply?: (r: RpcReply) => void;
}

interface CoreSub {
  pattern: string;
  queue?: string;
  closed: boolean;
  deliver(msg: WireMessage): void;
}

interface StoredEvent {
  seq: number;
  subject: string;
  json: string;
  headers: EventHeaders;
  storedAt: number;
}

interface MemStream {
  name: string;
  subjects: string[];
  maxAgeMs: number;
  duplicateWindowMs: number;
  events: StoredEvent[];
  lastSeq: number;
  /** event id -> time stored, for de-duplication. */
  seen: Map<string, number>;
  durables: Map<string, MemDurable>;
}

interface Pending {
  event: StoredEvent;
  deliveries: number;
  state: 'inflight' | 'waiting';
  readyAt: number;
  ackTimer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
}

interface Instance {
  handler: DurableHandler;
  concurrency: number;
  inflight: Set<Promise<void>>;
  active: boolean;
}

interface MemDurable {
  stream: MemStream;
  opts: ResolvedConsumerOptions;
  /** Highest stream sequence handed out for a first delivery. */
  cursor: number;
  /** Delivered and not yet acked (in flight or waiting for redelivery), by stream seq. */
  outstanding: Map<number, Pending>;
  instances: Instance[];
  rr: number;
}

function toJson(data: unknown): string | undefined {
  return data === undefined ? undefined : JSON.stringify(data);
}
function fromJson<T>(json: string | undefined): T {
  return (json === undefined ? undefined : JSON.parse(json)) as T;
}
function copyHeaders(h: EventHeaders | undefined): EventHeaders {
  const out: EventHeaders = {};
  if (h?.requestId) out.requestId = h.requestId;
  if (h?.traceparent) out.traceparent = h.traceparent;
  return out;
}
function assertSubject(subject: string): void {
  if (!isValidSubject(subject)) throw new Error(`invalid subject: ${JSON.stringify(subject)}`);
}
function assertPattern(pattern: string): void {
  if (!isValidPattern(pattern)) throw new Error(`invalid subject pattern: ${JSON.stringify(pattern)}`);
}

export function createMemoryBus(options: MemoryBusOptions = {}): Bus {
  const logger = (options.logger ?? pino({ level: 'warn' })).child({ component: 'memory-bus' });
  const maxPerStream = options.maxMessagesPerStream ?? 100_000;
  const subs = new SubjectIndex<CoreSub>();
  const allSubs = new Set<CoreSub>();
  const streams = new Map<string, MemStream>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new Error('bus is closed');
  }

  function later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    t.unref();
    timers.add(t);
    return t;
  }
  function cancel(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    timers.delete(t);
  }

  // ---- core pub/sub ------------------------------------------------------

  /** Routes like nats-server: every plain subscriber, plus one member per queue group. Returns receivers. */
  function route(msg: WireMessage): number {
    const plain: CoreSub[] = [];
    const groups = new Map<string, CoreSub[]>();
    for (const s of subs.match(msg.subject)) {
      if (s.closed) continue;
      if (s.queue === undefined) plain.push(s);
      else {
        const g = groups.get(s.queue);
        if (g) g.push(s);
        else groups.set(s.queue, [s]);
      }
    }
    const targets = [...plain];
    for (const members of groups.values()) targets.push(members[Math.floor(Math.random() * members.length)]!);
    for (const t of targets) setImmediate(() => t.deliver(msg));
    return targets.length;
  }

  function addSub(pattern: string, queue: string | undefined, deliver: (m: WireMessage) => void): Subscription {
    assertOpen();
    assertPattern(pattern);
    const sub: CoreSub = { pattern, queue, closed: false, deliver: (m) => !sub.closed && deliver(m) };
    subs.add(pattern, sub);
    allSubs.add(sub);
    return {
      unsubscribe() {
        if (sub.closed) return;
        sub.closed = true;
        subs.remove(pattern, sub);
        allSubs.delete(sub);
      },
    };
  }

  function runLive<T>(handler: LiveHandler<T>, msg: WireMessage): void {
    try {
      const r = handler({ subject: msg.subject, data: fromJson<T>(msg.json), headers: { ...msg.headers } });
      if (r instanceof Promise) {
        r.catch((err) => logger.error({ subject: msg.subject, err: errorMessage(err) }, 'subscriber failed'));
      }
    } catch (err) {
      logger.error({ subject: msg.subject, err: errorMessage(err) }, 'subscriber failed');
    }
  }

  // ---- streams -----------------------------------------------------------

  function streamBySubject(subject: string): MemStream | undefined {
    for (const s of streams.values()) if (s.subjects.some((p) => matchSubject(p, subject))) return s;
    return undefined;
  }

  function prune(stream: MemStream, now: number): void {
    const oldest = now - stream.maxAgeMs;
    let drop = 0;
    while (drop < stream.events.length && stream.events[drop]!.storedAt < oldest) drop++;
    if (stream.events.length - drop > maxPerStream) drop = stream.events.length - maxPerStream;
    if (drop > 0) stream.events.splice(0, drop);
    const windowStart = now - stream.duplicateWindowMs;
    for (const [id, at] of stream.seen) {
      if (at >= windowStart) break; // insertion order is time order
      stream.seen.delete(id);
    }
  }

  function defineStream(def: StreamDefinition): void {
    if (!/^[A-Za-z0-9_-]+$/.test(def.name)) throw new Error(`invalid stream name: ${def.name}`);
    if (def.subjects.length === 0) throw new Error(`stream ${def.name}: no subjects`);
    for (const s of def.subjects) assertPattern(s);
    for (const other of streams.values()) {
      if (other.name === def.name) continue;
      for (const a of other.subjects) {
        for (const b of def.subjects) {
          if (patternCovers(a, b) || patternCovers(b, a)) {
            throw new Error(`stream ${def.name}: subjects overlap with stream ${other.name}`);
          }
        }
      }
    }
    const existing = streams.get(def.name);
    const maxAgeMs = def.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    const duplicateWindowMs = Math.min(def.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS, maxAgeMs);
    if (existing) {
      existing.subjects = [...def.subjects];
      existing.maxAgeMs = maxAgeMs;
      existing.duplicateWindowMs = duplicateWindowMs;
      return;
    }
    streams.set(def.name, {
      name: def.name,
      subjects: [...def.subjects],
      maxAgeMs,
      duplicateWindowMs,
      events: [],
      lastSeq: 0,
      seen: new Map(),
      durables: new Map(),
    });
  }

  /** Consumers may start before the owner ensured its stream: create it from the contracts with defaults. */
  function streamOfKey(key: StreamKey): MemStream {
    const def = STREAMS[key];
    if (!streams.has(def.name)) defineStream({ name: def.name, subjects: def.subjects });
    return streams.get(def.name)!;
  }

  // ---- durable consumers -------------------------------------------------

  function firstIndexAfter(events: StoredEvent[], seq: number): number {
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (events[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function nextNew(d: MemDurable): StoredEvent | undefined {
    const events = d.stream.events;
    for (let i = firstIndexAfter(events, d.cursor); i < events.length; i++) {
      const e = events[i]!;
      if (matchSubject(d.opts.filter, e.subject)) return e;
      d.cursor = e.seq; // skip non-matching for good
    }
    return undefined;
  }

  function nextReady(d: MemDurable, now: number): Pending | undefined {
    let best: Pending | undefined;
    for (const p of d.outstanding.values()) {
      if (p.state === 'waiting' && p.readyAt <= now && (!best || p.event.seq < best.event.seq)) best = p;
    }
    return best;
  }

  function pickInstance(d: MemDurable): Instance | undefined {
    const n = d.instances.length;
    for (let k = 0; k < n; k++) {
      const inst = d.instances[(d.rr + k) % n]!;
      if (inst.active && inst.inflight.size < inst.concurrency) {
        d.rr = (d.rr + k + 1) % n;
        return inst;
      }
    }
    return undefined;
  }

  function deadLetter(d: MemDurable, p: Pending, reason: 'max_deliver' | 'invalid_event', err: unknown): void {
    let event: unknown;
    try {
      event = JSON.parse(p.event.json);
    } catch {
      event = p.event.json;
    }
    const record = makeDeadLetter({
      durable: d.opts.durable,
      stream: d.opts.stream,
      subject: p.event.subject,
      streamSeq: p.event.seq,
      deliveryCount: p.deliveries,
      reason,
      error: err,
      event,
    });
    logDeadLetter(logger, record);
    route({ subject: deadLetterSubject(d.opts.durable), json: JSON.stringify(record), headers: p.event.headers });
  }

  function settle(d: MemDurable, p: Pending): void {
    cancel(p.ackTimer);
    cancel(p.retryTimer);
    d.outstanding.delete(p.event.seq);
  }

  function scheduleRetry(d: MemDurable, p: Pending, delayMs: number): void {
    p.state = 'waiting';
    p.readyAt = Date.now() + delayMs;
    cancel(p.ackTimer);
    cancel(p.retryTimer);
    p.retryTimer = later(delayMs, () => {
      // Timers run on a monotonic clock and may fire a little before Date.now() says the delay passed.
      p.readyAt = 0;
      pump(d);
    });
  }

  function deliver(d: MemDurable, p: Pending, inst: Instance): void {
    p.deliveries += 1;
    const attempt = p.deliveries;
    p.state = 'inflight';
    cancel(p.retryTimer);
    const current = () => d.outstanding.get(p.event.seq) === p && p.deliveries === attempt && p.state === 'inflight';
    const armAckTimer = () => {
      cancel(p.ackTimer);
      p.ackTimer = later(d.opts.ackWaitMs, () => {
        if (!current()) return;
        if (p.deliveries >= d.opts.maxDeliver) {
          settle(d, p);
          deadLetter(d, p, 'max_deliver', new Error('ack wait exceeded'));
        } else {
          scheduleRetry(d, p, 0);
        }
        pump(d);
      });
    };

    let event: AnyEventEnvelope;
    try {
      event = parseEvent(JSON.parse(p.event.json));
    } catch (err) {
      settle(d, p);
      deadLetter(d, p, 'invalid_event', err);
      return;
    }
    armAckTimer();
    const delivered: DeliveredEvent = {
      subject: p.event.subject,
      event,
      headers: { ...p.event.headers },
      deliveryCount: attempt,
      streamSeq: p.event.seq,
      working: () => {
        if (current()) armAckTimer();
      },
    };
    const run = (async () => {
      // setImmediate callbacks run in the order queued: handlers are called in delivery (stream) order.
      await new Promise<void>((r) => setImmediate(r));
      try {
        await inst.handler(delivered);
      } catch (err) {
        // A late failure of a delivery that was already redelivered or acked changes nothing (as on NATS).
        if (!current()) return;
        if (p.deliveries >= d.opts.maxDeliver) {
          settle(d, p);
          deadLetter(d, p, 'max_deliver', err);
        } else {
          scheduleRetry(d, p, backoffAfter(p.deliveries, d.opts.backoffMs));
        }
        return;
      }
      // An ack from any delivery acks the event.
      if (d.outstanding.get(p.event.seq) === p) settle(d, p);
    })().finally(() => {
      inst.inflight.delete(run);
      pump(d);
    });
    inst.inflight.add(run);
  }

  function pump(d: MemDurable): void {
    if (closed) return;
    prune(d.stream, Date.now());
    for (;;) {
      const inst = pickInstance(d);
      if (!inst) return;
      let p = nextReady(d, Date.now());
      if (!p) {
        if (d.outstanding.size >= d.opts.maxAckPending) return;
        const e = nextNew(d);
        if (!e) return;
        d.cursor = e.seq;
        p = { event: e, deliveries: 0, state: 'waiting', readyAt: 0 };
        d.outstanding.set(e.seq, p);
      }
      deliver(d, p, inst);
    }
  }

  function pendingOf(d: MemDurable): number {
    prune(d.stream, Date.now());
    const events = d.stream.events;
    let n = d.outstanding.size;
    for (let i = firstIndexAfter(events, d.cursor); i < events.length; i++) {
      if (matchSubject(d.opts.filter, events[i]!.subject)) n++;
    }
    return n;
  }

  // ---- the Bus -------------------------------------------------------------

  const bus: Bus = {
    async ensureStream(def) {
      assertOpen();
      defineStream(def);
    },

    async publishDurable(subject: string, event: AnyEventEnvelope, opts?: PublishDurableOptions) {
      assertOpen();
      assertSubject(subject);
      const json = JSON.stringify(event);
      const checked = opts?.validated ? event : parseEvent(JSON.parse(json));
      if (typeOfSubject(subject) !== checked.type) {
        throw new Error(`event ${checked.type} published on subject ${subject} of another type`);
      }
      const stream = streamBySubject(subject);
      if (!stream) throw new Error(`no stream stores subject ${subject}`);
      const now = Date.now();
      prune(stream, now);
      if (stream.seen.has(checked.id)) return; // duplicate inside the window: acked, not stored
      const headers = copyHeaders(opts?.headers);
      const stored: StoredEvent = { seq: ++stream.lastSeq, subject, json, headers, storedAt: now };
      stream.events.push(stored);
      stream.seen.set(checked.id, now);
      prune(stream, now);
      route({ subject, json, headers });
      for (const d of stream.durables.values()) pump(d);
    },

    async consume(opts: DurableConsumerOptions, handler: DurableHandler): Promise<ConsumerHandle> {
      assertOpen();
      const resolved = resolveConsumerOptions(opts);
      const stream = streamOfKey(resolved.stream);
      let d = stream.durables.get(resolved.durable);
      if (!d) {
        d = {
          stream,
          opts: resolved,
          cursor: resolved.deliverPolicy === 'new' ? stream.lastSeq : 0,
          outstanding: new Map(),
          instances: [],
          rr: 0,
        };
        stream.durables.set(resolved.durable, d);
      } else {
        // Like a consumer update: the start position of an existing durable is kept.
        d.opts = { ...resolved, deliverPolicy: d.opts.deliverPolicy };
      }
      const durable = d;
      const inst: Instance = { handler, concurrency: resolved.concurrency, inflight: new Set(), active: true };
      durable.instances.push(inst);
      setImmediate(() => pump(durable));
      return {
        durable: resolved.durable,
        async pending() {
          return pendingOf(durable);
        },
        async stop() {
          if (!inst.active) return;
          inst.active = false;
          durable.instances = durable.instances.filter((i) => i !== inst);
          await Promise.allSettled([...inst.inflight]);
          pump(durable);
        },
      };
    },

    publish(subject: string, data: unknown, headers?: EventHeaders) {
      assertOpen();
      assertSubject(subject);
      route({ subject, json: toJson(data), headers: copyHeaders(headers) });
    },

    subscribe<T = unknown>(subject: string, handler: LiveHandler<T>, opts?: { queue?: string }): Subscription {
      return addSub(subject, opts?.queue, (m) => runLive(handler, m));
    },

    request<T = unknown>(
      subject: string,
      data: unknown,
      opts?: { timeoutMs?: number; headers?: EventHeaders },
    ): Promise<T> {
      assertOpen();
      assertSubject(subject);
      return new Promise<T>((resolve, reject) => {
        let done = false;
        const timer = later(opts?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, () => {
          if (done) return;
          done = true;
          reject(new BusTimeoutError(subject));
        });
        const reply = (r: RpcReply) => {
          if (done) return;
          done = true;
          cancel(timer);
          if (r.ok) resolve(fromJson<T>(r.json));
          else reject(new BusRemoteError(subject, r.message, r.code));
        };
        const receivers = route({ subject, json: toJson(data), headers: copyHeaders(opts?.headers), reply });
        if (receivers === 0) {
          done = true;
          cancel(timer);
          reject(new BusNoRespondersError(subject));
        }
      });
    },

    serve<Req = unknown, Res = unknown>(
      subject: string,
      handler: (req: Req, headers: EventHeaders) => Promise<Res> | Res,
      opts?: { queue?: string },
    ): Subscription {
      return addSub(subject, opts?.queue ?? subject, async (m) => {
        try {
          const res = await handler(fromJson<Req>(m.json), { ...m.headers });
          m.reply?.({ ok: true, json: toJson(res) });
        } catch (err) {
          const code = (err as { code?: unknown })?.code;
          logger.warn({ subject: m.subject, err: errorMessage(err) }, 'rpc handler failed');
          m.reply?.({ ok: false, message: errorMessage(err), code: typeof code === 'string' ? code : undefined });
        }
      });
    },

    async ping() {
      assertOpen();
    },

    async close() {
      if (closed) return;
      const running: Promise<void>[] = [];
      for (const s of streams.values()) {
        for (const d of s.durables.values()) {
          for (const inst of d.instances) {
            inst.active = false;
            running.push(...inst.inflight);
          }
          d.instances = [];
        }
      }
      for (const s of allSubs) {
        s.closed = true;
        subs.remove(s.pattern, s);
      }
      allSubs.clear();
      await Promise.allSettled(running);
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
  return bus;
}
