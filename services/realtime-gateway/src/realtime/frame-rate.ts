/**
 * Per-connection frame rate limit: a token bucket (`ratePerSec`, burst twice
 * that). A frame over the limit is refused (`error rate_limited`); a
 * connection that keeps sending past it (more refused frames than one burst
 * before the bucket refills) is closed with 4429.
 */
export type FrameRateVerdict = 'allow' | 'refuse' | 'close';

export class FrameRateLimiter {
  private tokens: number;
  private last: number;
  private refused = 0;
  private readonly burst: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = ratePerSec * 2;
    this.tokens = this.burst;
    this.last = now();
  }

  take(): FrameRateVerdict {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSec);
    this.last = t;
    if (this.tokens >= this.burst) this.refused = 0;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'allow';
    }
    this.refused += 1;
    return this.refused > this.burst ? 'close' : 'refuse';
  }

  /** True for the first refusal of a run, so the client gets one `error` rather than one per frame. */
  get firstRefusal(): boolean {
    return this.refused === 1;
  }
}
