/**
 * The Bus contract against the real NATS server (TEST_NATS_URL or the local
 * default), plus what only the NATS adapter has to get right: stream naming,
 * payloads that are not valid events, consumers deleted under a running loop.
 * Every bus gets its own prefix under this file's prefix; afterAll deletes
 * this file's streams and nothing else.
 */
import { makeEvent, subjectOf } from '@parley/contracts';
import { connect, type NatsConnection } from 'nats';
import pino from 'pino';
import { v7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../src/bus/bus';
import type { DeadLetterRecord } from '../src/bus/dead-letter';
import { createNatsBus, natsStreamName } from '../src/bus/nats-bus';
import { runBusContract } from '../src/testing/bus.contract';
import { uniqueTestPrefix } from '../src/testing/infra';
import { requireServers, testServers } from '../src/testing/servers';

await requireServers(['nats']);

const { natsUrl } = testServers();
const silent = pino({ level: 'silent' });
const filePrefix = uniqueTestPrefix('tbus');
let counter = 0;

async function deleteStreamsOf(prefixes: (name: string) => boolean): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await nc.jetstreamManager();
    const names: string[] = [];
    for await (const info of jsm.streams.list()) if (prefixes(info.config.name)) names.push(info.config.name);
    for (const name of names) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

async function makeBus(): Promise<{ bus: Bus; prefix: string; close(): Promise<void> }> {
  counter += 1;
  const prefix = `${filePrefix}x${counter}`;
  const bus = await createNatsBus({ url: natsUrl, prefix, logger: silent, fetchExpiresMs: 2000 });
  const streamPrefix = natsStreamName(prefix, '');
  return {
    bus,
    prefix,
    async close() {
      await bus.close();
      await deleteStreamsOf((name) => name.startsWith(streamPrefix));
    },
  };
}

afterAll(async () => {
  const mine = natsStreamName(filePrefix, '').slice(0, -1);
  await deleteStreamsOf((name) => name.startsWith(mine));
});

runBusContract('nats', makeBus);

function userDeleted() {
  const userId = v7();
  const event = makeEvent('user.deleted', { userId, deletedAt: new Date().toISOString() }, { id: v7(), producer: 't' });
  return { event, subject: subjectOf('user.deleted', userId) };
}

describe('nats bus specifics', () => {
  let raw: NatsConnection;
  beforeAll(async () => {
    raw = await connect({ servers: natsUrl });
  });
  afterAll(async () => {
    await raw?.close();
  });

  it('names streams <PREFIX>_<NAME>, sanitized, and puts the prefix on the wire', async () => {
    expect(natsStreamName('parley', 'MESSAGE')).toBe('PARLEY_MESSAGE');
    expect(natsStreamName('stage.eu', 'AUTH')).toBe('STAGE_EU_AUTH');
    const { bus, prefix, close } = await makeBus();
    try {
      await bus.ensureStream({ name: 'AUTH', subjects: ['user.>', 'session.>'] });
      const jsm = await raw.jetstreamManager();
      const info = await jsm.streams.info(natsStreamName(prefix, 'AUTH'));
      expect(info.config.subjects).toEqual([`${prefix}.user.>`, `${prefix}.session.>`]);
      expect(info.config.storage).toBe('file');
      const got: string[] = [];
      const sub = raw.subscribe(`${prefix}.wire.check`, { callback: (_e, m) => got.push(m.string()) });
      await raw.flush();
      bus.publish('wire.check', { ok: true });
      await expect.poll(() => got).toEqual(['{"ok":true}']);
      sub.unsubscribe();
    } finally {
      await close();
    }
  });

  it('dead-letters a stored payload that is not a valid event and goes on', async () => {
    const { bus, prefix, close } = await makeBus();
    try {
      await bus.ensureStream({ name: 'AUTH', subjects: ['user.>', 'session.>'] });
      const letters: DeadLetterRecord[] = [];
      bus.subscribe<DeadLetterRecord>('deadletter.bad-payload', (m) => void letters.push(m.data));
      const handled: string[] = [];
      const handle = await bus.consume(
        { stream: 'auth', durable: 'bad-payload', filter: 'user.*.deleted' },
        async (m) => void handled.push(m.event.id),
      );
      const js = raw.jetstream();
      await js.publish(`${prefix}.user.u1.deleted`, new TextEncoder().encode('{"not":"an event"}'));
      await js.publish(`${prefix}.user.u2.deleted`, new TextEncoder().encode('not json'));
      const good = userDeleted();
      await bus.publishDurable(good.subject, good.event);
      await expect.poll(() => handled, { timeout: 10_000 }).toEqual([good.event.id]);
      await expect.poll(() => letters.length, { timeout: 10_000 }).toBe(2);
      expect(letters.map((l) => l.reason)).toEqual(['invalid_event', 'invalid_event']);
      expect(letters[0]).toMatchObject({ subject: 'user.u1.deleted', event: { not: 'an event' }, deliveryCount: 1 });
      expect(letters[1]).toMatchObject({ subject: 'user.u2.deleted', event: 'not json' });
      await expect.poll(() => handle.pending()).toBe(0);
      await handle.stop();
    } finally {
      await close();
    }
  });

  it('recreates a consumer deleted under a running loop and keeps delivering', async () => {
    const { bus, prefix, close } = await makeBus();
    try {
      await bus.ensureStream({ name: 'AUTH', subjects: ['user.>', 'session.>'] });
      const handled: string[] = [];
      const handle = await bus.consume(
        { stream: 'auth', durable: 'recreated', filter: 'user.*.deleted' },
        async (m) => void handled.push(m.event.id),
      );
      const before = userDeleted();
      await bus.publishDurable(before.subject, before.event);
      await expect.poll(() => handled).toEqual([before.event.id]);

      const jsm = await raw.jetstreamManager();
      await jsm.consumers.delete(natsStreamName(prefix, 'AUTH'), 'recreated');
      const after = userDeleted();
      await bus.publishDurable(after.subject, after.event);
      await expect.poll(() => handled, { timeout: 20_000 }).toContain(after.event.id);
      // Recreated at the first unsettled event: nothing acked before is handled again.
      expect(handled).toEqual([before.event.id, after.event.id]);
      await handle.stop();
    } finally {
      await close();
    }
  }, 30_000);

  it('creates a missing stream for a consumer that starts before its owner', async () => {
    const { bus, prefix, close } = await makeBus();
    try {
      const handle = await bus.consume(
        { stream: 'conversation', durable: 'early', filter: 'member.*.added' },
        async () => {},
      );
      const jsm = await raw.jetstreamManager();
      const info = await jsm.streams.info(natsStreamName(prefix, 'CONVERSATION'));
      expect(info.config.subjects).toEqual([`${prefix}.conversation.>`, `${prefix}.member.>`]);
      await handle.stop();
    } finally {
      await close();
    }
  });

  it('fails to connect with a clear error when no server answers', async () => {
    await expect(createNatsBus({ url: 'nats://127.0.0.1:1', logger: silent })).rejects.toThrow();
  });
});
