import { describe, expect, it } from 'vitest';
import { backoffAfter, CONSUMER_DEFAULTS, resolveConsumerOptions } from './consumer-options';

describe('resolveConsumerOptions', () => {
  it('fills the documented defaults', () => {
    expect(
      resolveConsumerOptions({ stream: 'message', durable: 'notification-messages', filter: 'message.*.created' }),
    ).toEqual({
      stream: 'message',
      durable: 'notification-messages',
      filter: 'message.*.created',
      ...CONSUMER_DEFAULTS,
      backoffMs: [200, 1000, 5000, 15000],
    });
  });

  it('names the option that cannot work', () => {
    const base = { stream: 'message' as const, durable: 'd', filter: 'message.*.created' };
    expect(() => resolveConsumerOptions({ ...base, durable: 'has.dot' })).toThrow(/durable/);
    expect(() => resolveConsumerOptions({ ...base, filter: 'message.>.created' })).toThrow(/filter: invalid/);
    expect(() => resolveConsumerOptions({ ...base, filter: 'user.*.deleted' })).toThrow(/outside stream message/);
    expect(() => resolveConsumerOptions({ ...base, maxDeliver: 0 })).toThrow(/maxDeliver/);
    expect(() => resolveConsumerOptions({ ...base, concurrency: 1.5 })).toThrow(/concurrency/);
    expect(() => resolveConsumerOptions({ ...base, backoffMs: [] })).toThrow(/backoffMs/);
    expect(() => resolveConsumerOptions({ ...base, ackWaitMs: 10 })).toThrow(/ackWaitMs/);
  });

  it('accepts a filter on any subject space of the stream', () => {
    expect(resolveConsumerOptions({ stream: 'message', durable: 'd', filter: 'receipt.*.read' }).filter).toBe(
      'receipt.*.read',
    );
  });
});

describe('backoffAfter', () => {
  it('walks the list by delivery count and repeats the last step', () => {
    const steps = [200, 1000, 5000];
    expect([1, 2, 3, 4, 9].map((n) => backoffAfter(n, steps))).toEqual([200, 1000, 5000, 5000, 5000]);
  });
});
