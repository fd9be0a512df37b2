/**
 * The semantics every Bus adapter must share, as one vitest suite. The NATS
 * and in-memory adapters both run it (`test/bus.nats.test.ts`,
 * `test/bus.memory.test.ts`), so standalone mode cannot drift from what the
 * services meet in production.
 *
 * `makeBus` must return a bus on a fresh, unique prefix each call (a test
 * that needs two buses calls it twice and expects them isolated) and a
 * `close` that closes the bus and removes whatever it stored (streams).
 */
import { makeEvent, subjectOf } from '@parley/contracts';
import { v7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import {
  type Bus,
  BusNoRespondersError,
  BusRemoteError,
  BusTimeoutError,
  type DeliveredEvent,
  type LiveMessage,
} from '../bus/bus';
import type { DeadLetterRecord } from '../bus/dead-letter';

export type MakeBus = () => Promise<{ bus: Bus; close(): Promise<void> }>;

const AUTH_STREAM = { name: 'AUTH', subjects: ['user.>', 'session.>'] };
const FILTER = 'user.*.deleted';

function userDeleted() {
  const userId = v7();
  const event = makeEvent(
    'user.deleted',
    { userId, deletedAt: new Date().toISOString() },
    { id: v7(), producer: 'test' },
  );
  return { event, subject: subjectOf('user.deleted', userId) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `check` passes (throws no more) or the deadline passes, then rethrows its last failure. */
async function eventually(check: () => void | Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(25);
    }
  }
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, opened };
}

let durableCounter = 0;
function durableName(what: string): string {
  durableCounter += 1;
  return `test-${what}-${durableCounter}`;
}

export function runBusContract(label: string, makeBus: MakeBus): void {
  async function withBus(fn: (bus: Bus) => Promise<void>): Promise<void> {
    const { bus, close } = await makeBus();
    try {
      await fn(bus);
    } finally {
      await close();
    }
  }

  describe(`Bus contract: ${label}`, () => {
    describe('core publish/subscribe', () => {
      it('routes by subject with * and > wildcards', () =>
        withBus(async (bus) => {
          const got: Record<string, string[]> = { star: [], tail: [], exact: [] };
          bus.subscribe('chat.*.said', (m) => void got.star!.push(m.subject));
          bus.subscribe('chat.>', (m) => void got.tail!.push(m.subject));
          bus.subscribe('chat.c1.said', (m) => void got.exact!.push(m.subject));
          bus.publish('chat.c1.said', { n: 1 });
          bus.publish('chat.c2.said', { n: 2 });
          bus.publish('chat.c1.typing.now', { n: 3 });
          bus.publish('other.c1.said', { n: 4 });
          await eventually(() => expect(got.tail).toHaveLength(3));
          await sleep(100);
          expect(got.star!.sort()).toEqual(['chat.c1.said', 'chat.c2.said']);
          expect(got.tail!.sort()).toEqual(['chat.c1.said', 'chat.c1.typing.now', 'chat.c2.said']);
          expect(got.exact).toEqual(['chat.c1.said']);
        }));

      it('delivers JSON data and headers, without the prefix in the subject', () =>
        withBus(async (bus) => {
          const got: LiveMessage<{ text: string; n: number }>[] = [];
          bus.subscribe<{ text: string; n: number }>('live.typing.c1', (m) => void got.push(m));
          bus.publish('live.typing.c1', { text: 'hi', n: 1 }, { requestId: 'req-1', traceparent: 'tp-1' });
          await eventually(() => expect(got).toHaveLength(1));
          expect(got[0]).toEqual({
            subject: 'live.typing.c1',
            data: { text: 'hi', n: 1 },
            headers: { requestId: 'req-1', traceparent: 'tp-1' },
          });
        }));

      it('gives each message to one member of a queue group, and to every plain subscriber', () =>
        withBus(async (bus) => {
          const a: number[] = [];
          const b: number[] = [];
          const plain: number[] = [];
          bus.subscribe<number>('work.items', (m) => void a.push(m.data), { queue: 'workers' });
          bus.subscribe<number>('work.items', (m) => void b.push(m.data), { queue: 'workers' });
          bus.subscribe<number>('work.items', (m) => void plain.push(m.data));
          await sleep(50);
          for (let i = 0; i < 40; i++) bus.publish('work.items', i);
          await eventually(() => expect(plain).toHaveLength(40));
          await eventually(() => expect(a.length + b.length).toBe(40));
          await sleep(100);
          expect([...a, ...b].sort((x, y) => x - y)).toEqual([...Array(40).keys()]);
        }));

      it('stops delivering after unsubscribe', () =>
        withBus(async (bus) => {
          const got: number[] = [];
          const sub = bus.subscribe<number>('unsub.test', (m) => void got.push(m.data));
          bus.publish('unsub.test', 1);
          await eventually(() => expect(got).toEqual([1]));
          sub.unsubscribe();
          const after: number[] = [];
          bus.subscribe<number>('unsub.test', (m) => void after.push(m.data));
          bus.publish('unsub.test', 2);
          await eventually(() => expect(after).toEqual([2]));
          expect(got).toEqual([1]);
        }));

      it('refuses invalid subjects and patterns', () =>
        withBus(async (bus) => {
          expect(() => bus.publish('a.*', 1)).toThrow(/invalid subject/);
          expect(() => bus.publish('a..b', 1)).toThrow(/invalid subject/);
          expect(() => bus.subscribe('a.>.b', () => {})).toThrow(/invalid subject/);
        }));
    });

    describe('request/reply', () => {
      it('answers a request with the handler result and passes headers', () =>
        withBus(async (bus) => {
          bus.serve<{ x: number }, { doubled: number; requestId?: string }>('rpc.test.double', (req, headers) => ({
            doubled: req.x * 2,
            requestId: headers.requestId,
          }));
          await sleep(50);
          const res = await bus.request('rpc.test.double', { x: 21 }, { headers: { requestId: 'r-42' } });
          expect(res).toEqual({ doubled: 42, requestId: 'r-42' });
        }));

      it('lets one member of the serving queue group answer each request', () =>
        withBus(async (bus) => {
          const calls = { a: 0, b: 0 };
          bus.serve('rpc.test.who', () => {
            calls.a += 1;
            return 'a';
          });
          bus.serve('rpc.test.who', () => {
            calls.b += 1;
            return 'b';
          });
          await sleep(50);
          const answers = await Promise.all(Array.from({ length: 20 }, () => bus.request<string>('rpc.test.who', {})));
          expect(answers.every((x) => x === 'a' || x === 'b')).toBe(true);
          expect(calls.a + calls.b).toBe(20);
        }));

      it('rejects with BusNoRespondersError when nobody serves the subject', () =>
        withBus(async (bus) => {
          await expect(bus.request('rpc.test.nobody', {}, { timeoutMs: 1000 })).rejects.toBeInstanceOf(
            BusNoRespondersError,
          );
        }));

      it('rejects with BusTimeoutError when a listener never answers', () =>
        withBus(async (bus) => {
          bus.subscribe('rpc.test.silent', () => {});
          await sleep(50);
          await expect(bus.request('rpc.test.silent', {}, { timeoutMs: 300 })).rejects.toBeInstanceOf(BusTimeoutError);
        }));

      it('rejects with BusRemoteError carrying the message and code the handler threw', () =>
        withBus(async (bus) => {
          bus.serve('rpc.test.fail', () => {
            throw Object.assign(new Error('not a member'), { code: 'forbidden' });
          });
          await sleep(50);
          const err = await bus.request('rpc.test.fail', {}).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(BusRemoteError);
          expect((err as BusRemoteError).remoteMessage).toBe('not a member');
          expect((err as BusRemoteError).remoteCode).toBe('forbidden');
        }));

      it('keeps a result that merely contains an error field a success', () =>
        withBus(async (bus) => {
          bus.serve('rpc.test.shape', () => ({ error: 'just data' }));
          await sleep(50);
          await expect(bus.request('rpc.test.shape', {})).resolves.toEqual({ error: 'just data' });
        }));
    });

    describe('streams and durable consumers', () => {
      it('ensureStream is idempotent and accepts changed limits', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          await bus.ensureStream(AUTH_STREAM);
          await bus.ensureStream({ ...AUTH_STREAM, maxAgeMs: 3_600_000, duplicateWindowMs: 60_000 });
          const { event, subject } = userDeleted();
          await expect(bus.publishDurable(subject, event)).resolves.toBeUndefined();
        }));

      it('rejects a durable publish no stream stores, or on a subject of another event type', () =>
        withBus(async (bus) => {
          const { event, subject } = userDeleted();
          await expect(bus.publishDurable(subject, event)).rejects.toThrow(/no stream/);
          await bus.ensureStream(AUTH_STREAM);
          await expect(bus.publishDurable(subject.replace('.deleted', '.created'), event)).rejects.toThrow(
            /another type/,
          );
        }));

      it('validates a durable event unless the caller says makeEvent built it', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const { event, subject } = userDeleted();
          const broken = { ...event, data: { userId: 'not-a-uuid', deletedAt: 'yesterday' } } as typeof event;
          await expect(bus.publishDurable(subject, broken)).rejects.toThrow(/invalid user.deleted event/);
          // The outbox's rows were validated when written: not checked a second time (still type-checked).
          await expect(bus.publishDurable(subject, event, { validated: true })).resolves.toBeUndefined();
          await expect(
            bus.publishDurable(subject.replace('.deleted', '.created'), event, { validated: true }),
          ).rejects.toThrow(/another type/);
        }));

      it('refuses consumer options that cannot work', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const h = async () => {};
          await expect(bus.consume({ stream: 'auth', durable: 'bad.name', filter: FILTER }, h)).rejects.toThrow(
            /durable/,
          );
          await expect(bus.consume({ stream: 'auth', durable: 'x', filter: 'message.*.created' }, h)).rejects.toThrow(
            /outside stream/,
          );
        }));

      it('delivers a durable event once, with headers, delivery count and stream sequence', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const got: DeliveredEvent[] = [];
          const handle = await bus.consume(
            { stream: 'auth', durable: durableName('once'), filter: FILTER },
            async (m) => {
              got.push(m);
            },
          );
          const first = userDeleted();
          const sentinel = userDeleted();
          await bus.publishDurable(first.subject, first.event, {
            headers: { requestId: 'req-7', traceparent: 'tp-7' },
          });
          await bus.publishDurable(sentinel.subject, sentinel.event);
          await eventually(() => expect(got.map((m) => m.event.id)).toContain(sentinel.event.id));
          expect(got.map((m) => m.event.id)).toEqual([first.event.id, sentinel.event.id]);
          expect(got[0]!.event).toEqual(first.event);
          expect(got[0]!.subject).toBe(first.subject);
          expect(got[0]!.headers).toEqual({ requestId: 'req-7', traceparent: 'tp-7' });
          expect(got[0]!.deliveryCount).toBe(1);
          expect(got[1]!.streamSeq).toBeGreaterThan(got[0]!.streamSeq);
          await eventually(async () => expect(await handle.pending()).toBe(0));
          await handle.stop();
        }));

      it('also shows durable events to core subscribers of the subject', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const live: LiveMessage[] = [];
          bus.subscribe('user.*.deleted', (m) => void live.push(m));
          await sleep(50);
          const { event, subject } = userDeleted();
          await bus.publishDurable(subject, event, { headers: { requestId: 'req-live' } });
          await eventually(() => expect(live).toHaveLength(1));
          expect(live[0]!.subject).toBe(subject);
          expect(live[0]!.data).toEqual(event);
          expect(live[0]!.headers.requestId).toBe('req-live');
        }));

      it('stores an event published twice with the same id once', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const ids: string[] = [];
          const handle = await bus.consume(
            { stream: 'auth', durable: durableName('dedupe'), filter: FILTER },
            async (m) => {
              ids.push(m.event.id);
            },
          );
          const dup = userDeleted();
          const sentinel = userDeleted();
          await bus.publishDurable(dup.subject, dup.event);
          await bus.publishDurable(dup.subject, dup.event);
          await bus.publishDurable(sentinel.subject, sentinel.event);
          await eventually(() => expect(ids).toContain(sentinel.event.id));
          expect(ids).toEqual([dup.event.id, sentinel.event.id]);
          await handle.stop();
        }));

      it('redelivers a failed event after a nak with an increasing delivery count', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const target = userDeleted();
          const sentinel = userDeleted();
          const counts: number[] = [];
          const sentinelSeen = gate();
          const handle = await bus.consume(
            { stream: 'auth', durable: durableName('nak'), filter: FILTER, backoffMs: [30, 60], maxDeliver: 5 },
            async (m) => {
              if (m.event.id === sentinel.event.id) {
                sentinelSeen.open();
                return;
              }
              counts.push(m.deliveryCount);
              if (m.deliveryCount < 3) throw new Error('transient failure');
            },
          );
          await bus.publishDurable(target.subject, target.event);
          await eventually(() => expect(counts).toEqual([1, 2, 3]));
          await bus.publishDurable(sentinel.subject, sentinel.event);
          await sentinelSeen.opened;
          expect(counts).toEqual([1, 2, 3]);
          await eventually(async () => expect(await handle.pending()).toBe(0));
          await handle.stop();
        }));

      it('dead-letters an event after maxDeliver failures and goes on with the next', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const durable = durableName('dlq');
          const poison = userDeleted();
          const good = userDeleted();
          const letters: LiveMessage<DeadLetterRecord>[] = [];
          bus.subscribe<DeadLetterRecord>(`deadletter.${durable}`, (m) => void letters.push(m));
          await sleep(50);
          const attempts: number[] = [];
          const handled: string[] = [];
          const handle = await bus.consume(
            { stream: 'auth', durable, filter: FILTER, maxDeliver: 2, backoffMs: [20] },
            async (m) => {
              if (m.event.id === poison.event.id) {
                attempts.push(m.deliveryCount);
                throw new Error('always fails');
              }
              handled.push(m.event.id);
            },
          );
          await bus.publishDurable(poison.subject, poison.event, { headers: { requestId: 'req-poison' } });
          await bus.publishDurable(good.subject, good.event);
          await eventually(() => expect(letters).toHaveLength(1));
          const record = letters[0]!.data;
          expect(record).toMatchObject({
            durable,
            stream: 'auth',
            subject: poison.subject,
            deliveryCount: 2,
            reason: 'max_deliver',
            error: 'always fails',
            eventId: poison.event.id,
            eventType: 'user.deleted',
            event: poison.event,
          });
          expect(letters[0]!.headers.requestId).toBe('req-poison');
          const after = userDeleted();
          await bus.publishDurable(after.subject, after.event);
          await eventually(() => expect(handled).toContain(after.event.id));
          expect(handled).toEqual([good.event.id, after.event.id]);
          expect(attempts).toEqual([1, 2]);
          await eventually(async () => expect(await handle.pending()).toBe(0));
          await handle.stop();
        }));

      it('dead-letters an event whose last delivery is never acked', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const durable = durableName('dlq-ackwait');
          const letters: DeadLetterRecord[] = [];
          bus.subscribe<DeadLetterRecord>(`deadletter.${durable}`, (m) => void letters.push(m.data));
          await sleep(50);
          const release = gate();
          const counts: number[] = [];
          const handle = await bus.consume(
            { stream: 'auth', durable, filter: FILTER, maxDeliver: 2, ackWaitMs: 1000, concurrency: 2 },
            async (m) => {
              counts.push(m.deliveryCount);
              await release.opened;
            },
          );
          const { event, subject } = userDeleted();
          await bus.publishDurable(subject, event);
          await eventually(() => expect(letters).toHaveLength(1));
          expect(letters[0]).toMatchObject({
            durable,
            subject,
            streamSeq: expect.any(Number),
            deliveryCount: 2,
            reason: 'max_deliver',
            eventId: event.id,
            event,
          });
          expect(counts).toEqual([1, 2]);
          release.open();
          await eventually(async () => expect(await handle.pending()).toBe(0));
          await handle.stop();
        }));

      it('redelivers an event whose handler neither acks nor reports progress within ackWait', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const { event, subject } = userDeleted();
          const counts: number[] = [];
          const handle = await bus.consume(
            { stream: 'auth', durable: durableName('ackwait'), filter: FILTER, ackWaitMs: 1000, concurrency: 2 },
            async (m) => {
              counts.push(m.deliveryCount);
              if (m.deliveryCount === 1) await sleep(1800);
            },
          );
          await bus.publishDurable(subject, event);
          await eventually(() => expect(counts).toContain(2));
          await handle.stop();
        }));

      it('does not redeliver while the handler calls working()', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const slow = userDeleted();
          const sentinel = userDeleted();
          const deliveries: string[] = [];
          const slowDone = gate();
          const handle = await bus.consume(
            { stream: 'auth', durable: durableName('working'), filter: FILTER, ackWaitMs: 1000 },
            async (m) => {
              deliveries.push(`${m.event.id}#${m.deliveryCount}`);
              if (m.event.id === slow.event.id) {
                for (let i = 0; i < 6; i++) {
                  await sleep(300);
                  m.working();
                }
                slowDone.open();
              }
            },
          );
          await bus.publishDurable(slow.subject, slow.event);
          await slowDone.opened;
          await bus.publishDurable(sentinel.subject, sentinel.event);
          await eventually(() => expect(deliveries).toContain(`${sentinel.event.id}#1`));
          expect(deliveries).toEqual([`${slow.event.id}#1`, `${sentinel.event.id}#1`]);
          await handle.stop();
        }));

      it('runs at most `concurrency` handlers at once', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          let running = 0;
          let peak = 0;
          let done = 0;
          const release = gate();
          const handle = await bus.consume(
            { stream: 'auth', durable: durableName('conc'), filter: FILTER, concurrency: 3 },
            async () => {
              running += 1;
              peak = Math.max(peak, running);
              await release.opened;
              running -= 1;
              done += 1;
            },
          );
          for (let i = 0; i < 6; i++) {
            const { event, subject } = userDeleted();
            await bus.publishDurable(subject, event);
          }
          await eventually(() => expect(running).toBe(3));
          await sleep(200);
          expect(peak).toBe(3);
          release.open();
          await eventually(() => expect(done).toBe(6));
          expect(peak).toBe(3);
          await handle.stop();
        }));

      it('resumes a durable after stop/start from the last ack, without redelivering acked events', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const durable = durableName('resume');
          const first: string[] = [];
          const h1 = await bus.consume({ stream: 'auth', durable, filter: FILTER }, async (m) => {
            first.push(m.event.id);
          });
          const e1 = userDeleted();
          const e2 = userDeleted();
          await bus.publishDurable(e1.subject, e1.event);
          await bus.publishDurable(e2.subject, e2.event);
          await eventually(() => expect(first).toEqual([e1.event.id, e2.event.id]));
          await h1.stop();
          const e3 = userDeleted();
          const e4 = userDeleted();
          await bus.publishDurable(e3.subject, e3.event);
          await bus.publishDurable(e4.subject, e4.event);
          await eventually(async () => expect(await h1.pending()).toBe(2));
          const second: string[] = [];
          const h2 = await bus.consume({ stream: 'auth', durable, filter: FILTER }, async (m) => {
            second.push(m.event.id);
          });
          await eventually(() => expect(second).toContain(e4.event.id));
          expect(second).toEqual([e3.event.id, e4.event.id]);
          expect(first).toEqual([e1.event.id, e2.event.id]);
          await h2.stop();
        }));

      it('reports pending() as stored events not yet acked, down to 0 when caught up', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const release = gate();
          let handled = 0;
          const handle = await bus.consume(
            { stream: 'auth', durable: durableName('lag'), filter: FILTER },
            async () => {
              await release.opened;
              handled += 1;
            },
          );
          expect(await handle.pending()).toBe(0);
          for (let i = 0; i < 3; i++) {
            const { event, subject } = userDeleted();
            await bus.publishDurable(subject, event);
          }
          await eventually(async () => expect(await handle.pending()).toBe(3));
          release.open();
          await eventually(() => expect(handled).toBe(3));
          await eventually(async () => expect(await handle.pending()).toBe(0));
          await handle.stop();
        }));

      it('with deliverPolicy new, starts after the events already stored', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const old = userDeleted();
          await bus.publishDurable(old.subject, old.event);
          const ids: string[] = [];
          const handle = await bus.consume(
            { stream: 'auth', durable: durableName('new'), filter: FILTER, deliverPolicy: 'new' },
            async (m) => {
              ids.push(m.event.id);
            },
          );
          const fresh = userDeleted();
          await bus.publishDurable(fresh.subject, fresh.event);
          await eventually(() => expect(ids).toContain(fresh.event.id));
          expect(ids).toEqual([fresh.event.id]);
          await handle.stop();
        }));

      it('filters by subject: a consumer sees only the events its filter matches', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const ids: string[] = [];
          const { event, subject } = userDeleted();
          const handle = await bus.consume(
            { stream: 'auth', durable: durableName('filter'), filter: `user.${subject.split('.')[1]}.deleted` },
            async (m) => {
              ids.push(m.event.id);
            },
          );
          const other = userDeleted();
          await bus.publishDurable(other.subject, other.event);
          await bus.publishDurable(subject, event);
          await eventually(() => expect(ids).toContain(event.id));
          expect(ids).toEqual([event.id]);
          await handle.stop();
        }));

      it('shares one durable between two consumer instances: each event handled once', () =>
        withBus(async (bus) => {
          await bus.ensureStream(AUTH_STREAM);
          const durable = durableName('shared');
          const seen = new Map<string, number>();
          const record = async (m: DeliveredEvent) => {
            seen.set(m.event.id, (seen.get(m.event.id) ?? 0) + 1);
            await sleep(5);
          };
          const h1 = await bus.consume({ stream: 'auth', durable, filter: FILTER }, record);
          const h2 = await bus.consume({ stream: 'auth', durable, filter: FILTER }, record);
          const events = Array.from({ length: 20 }, () => userDeleted());
          for (const { event, subject } of events) await bus.publishDurable(subject, event);
          await eventually(() => expect(seen.size).toBe(20));
          await eventually(async () => expect(await h1.pending()).toBe(0));
          const sentinel = userDeleted();
          await bus.publishDurable(sentinel.subject, sentinel.event);
          await eventually(() => expect(seen.has(sentinel.event.id)).toBe(true));
          expect(events.map(({ event }) => seen.get(event.id))).toEqual(Array(20).fill(1));
          await h1.stop();
          await h2.stop();
        }));
    });

    describe('prefix isolation', () => {
      it('keeps two buses on different prefixes apart, live and durable', async () => {
        const a = await makeBus();
        const b = await makeBus();
        try {
          const aLive: unknown[] = [];
          const bLive: unknown[] = [];
          a.bus.subscribe('iso.>', (m) => void aLive.push(m.data));
          b.bus.subscribe('iso.>', (m) => void bLive.push(m.data));
          await a.bus.ensureStream(AUTH_STREAM);
          await b.bus.ensureStream(AUTH_STREAM);
          const durable = durableName('iso');
          const aDurable: string[] = [];
          const bDurable: string[] = [];
          const ha = await a.bus.consume({ stream: 'auth', durable, filter: FILTER }, async (m) => {
            aDurable.push(m.event.id);
          });
          const hb = await b.bus.consume({ stream: 'auth', durable, filter: FILTER }, async (m) => {
            bDurable.push(m.event.id);
          });
          await sleep(50);
          b.bus.publish('iso.x', 'from b');
          const { event, subject } = userDeleted();
          await b.bus.publishDurable(subject, event);
          await eventually(() => expect(bLive).toEqual(['from b']));
          await eventually(() => expect(bDurable).toEqual([event.id]));
          await sleep(200);
          expect(aLive).toEqual([]);
          expect(aDurable).toEqual([]);
          expect(await ha.pending()).toBe(0);
          await ha.stop();
          await hb.stop();
        } finally {
          await a.close();
          await b.close();
        }
      });
    });
  });
}
