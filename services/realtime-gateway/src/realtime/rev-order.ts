/**
 * Keeps `message.*` events of one conversation in `rev` order at the gateway.
 * Core NATS delivers in publish order, but publishes from different relay
 * transactions (or a retried publish) can arrive out of order or twice. An
 * event next in line goes out at once; one ahead of a gap is held until the
 * gap fills or a short wait expires (then the holder fetches the gap from the
 * message service, or releases what it holds in order); a `rev` already
 * released is dropped.
 */
export interface Ordered<T> {
  rev: number;
  item: T;
}

export class RevOrderBuffer<T> {
  private lastRev: number | null = null;
  private readonly held = new Map<number, T>();

  constructor(initialRev: number | null = null) {
    this.lastRev = initialRev;
  }

  get position(): number | null {
    return this.lastRev;
  }

  get holding(): number {
    return this.held.size;
  }

  /** Accepts one event; returns what may go out now, in order. */
  push(rev: number, item: T): Ordered<T>[] {
    if (this.lastRev === null) {
      this.lastRev = rev;
      return [{ rev, item }, ...this.drain(false)];
    }
    if (rev <= this.lastRev || this.held.has(rev)) return [];
    if (rev !== this.lastRev + 1) {
      this.held.set(rev, item);
      return [];
    }
    this.lastRev = rev;
    return [{ rev, item }, ...this.drain(false)];
  }

  /** Fills a gap with events fetched elsewhere (any order, duplicates ignored), then drains. */
  fill(events: Ordered<T>[]): Ordered<T>[] {
    for (const e of events) {
      if (this.lastRev === null || e.rev > this.lastRev) this.held.set(e.rev, e.item);
    }
    return this.drain(false);
  }

  /** Gives up waiting: releases everything held, in `rev` order. */
  flush(): Ordered<T>[] {
    return this.drain(true);
  }

  private drain(force: boolean): Ordered<T>[] {
    const out: Ordered<T>[] = [];
    if (this.held.size === 0) return out;
    const revs = [...this.held.keys()].sort((a, b) => a - b);
    for (const rev of revs) {
      if (this.lastRev !== null && rev <= this.lastRev) {
        this.held.delete(rev);
        continue;
      }
      if (!force && this.lastRev !== null && rev !== this.lastRev + 1) break;
      out.push({ rev, item: this.held.get(rev)! });
      this.held.delete(rev);
      this.lastRev = rev;
    }
    return out;
  }
}
