import { describe, expect, it } from 'vitest';
import { RevOrderBuffer } from './rev-order';

const revs = (xs: { rev: number }[]) => xs.map((x) => x.rev);

describe('rev order buffer', () => {
  it('passes events in order and drops duplicates', () => {
    const b = new RevOrderBuffer<string>(3);
    expect(revs(b.push(4, 'a'))).toEqual([4]);
    expect(revs(b.push(4, 'a'))).toEqual([]);
    expect(revs(b.push(2, 'old'))).toEqual([]);
    expect(revs(b.push(5, 'b'))).toEqual([5]);
  });

  it('holds an event ahead of a gap until the gap fills', () => {
    const b = new RevOrderBuffer<string>(1);
    expect(revs(b.push(3, 'c'))).toEqual([]);
    expect(revs(b.push(4, 'd'))).toEqual([]);
    expect(b.holding).toBe(2);
    expect(revs(b.push(2, 'b'))).toEqual([2, 3, 4]);
    expect(b.holding).toBe(0);
  });

  it('fills a gap from fetched changes and flushes what is left in order', () => {
    const b = new RevOrderBuffer<string>(10);
    b.push(13, 'm');
    b.push(16, 'p');
    expect(
      revs(
        b.fill([
          { rev: 12, item: 'l' },
          { rev: 11, item: 'k' },
          { rev: 9, item: 'old' },
        ]),
      ),
    ).toEqual([11, 12, 13]);
    expect(revs(b.flush())).toEqual([16]);
    expect(b.position).toBe(16);
  });

  it('starts from the first event when the position is unknown', () => {
    const b = new RevOrderBuffer<string>();
    expect(revs(b.push(7, 'g'))).toEqual([7]);
    expect(revs(b.push(9, 'i'))).toEqual([]);
    expect(revs(b.push(8, 'h'))).toEqual([8, 9]);
  });
});
