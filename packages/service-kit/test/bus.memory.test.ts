import { makeEvent, subjectOf } from '@parley/contracts';
import pino from 'pino';
import { v7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { createMemoryBus } from '../src/bus/memory-bus';
import { runBusContract } from '../src/testing/bus.contract';

const silent = pino({ level: 'silent' });

runBusContract('memory', async () => {
  const bus = createMemoryBus({ prefix: 'test', logger: silent });
  return { bus, close: () => bus.close() };
});

describe('memory bus specifics', () => {
  it('keeps at most maxMessagesPerStream events, dropping the oldest', async () => {
    const bus = createMemoryBus({ logger: silent, maxMessagesPerStream: 3 });
    await bus.ensureStream({ name: 'AUTH', subjects: ['user.>', 'session.>'] });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const userId = v7();
      const event = makeEvent(
        'user.deleted',
        { userId, deletedAt: new Date().toISOString() },
        { id: v7(), producer: 't' },
      );
      ids.push(event.id);
      await bus.publishDurable(subjectOf('user.deleted', userId), event);
    }
    const seen: string[] = [];
    const handle = await bus.consume({ stream: 'auth', durable: 'cap', filter: 'user.*.deleted' }, async (m) => {
      seen.push(m.event.id);
    });
    await expect.poll(() => seen.length).toBe(3);
    expect(seen).toEqual(ids.slice(2));
    await handle.stop();
    await bus.close();
  });

  it('copies payloads: a subscriber cannot mutate what the publisher or other subscribers see', async () => {
    const bus = createMemoryBus({ logger: silent });
    const sent = { n: 1 };
    const got: { n: number }[] = [];
    bus.subscribe<{ n: number }>('copy.test', (m) => {
      m.data.n = 99;
    });
    bus.subscribe<{ n: number }>('copy.test', (m) => void got.push(m.data));
    bus.publish('copy.test', sent);
    await expect.poll(() => got.length).toBe(1);
    expect(sent.n).toBe(1);
    expect(got[0]!.n).toBe(1);
    await bus.close();
  });

  it('refuses use after close', async () => {
    const bus = createMemoryBus({ logger: silent });
    await bus.close();
    expect(() => bus.publish('a.b', 1)).toThrow(/closed/);
    await expect(bus.ping()).rejects.toThrow(/closed/);
  });
});
