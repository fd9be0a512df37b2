import { describe, expect, it } from 'vitest';
import { FrameRateLimiter } from './frame-rate';

describe('frame rate limiter', () => {
  it('allows a burst, refuses past it, then closes a sender that keeps going', () => {
    const now = 0;
    const l = new FrameRateLimiter(5, () => now);
    const verdicts = Array.from({ length: 10 }, () => l.take());
    expect(verdicts.every((v) => v === 'allow')).toBe(true);
    expect(l.take()).toBe('refuse');
    expect(l.firstRefusal).toBe(true);
    expect(l.take()).toBe('refuse');
    expect(l.firstRefusal).toBe(false);
    const rest = Array.from({ length: 9 }, () => l.take());
    expect(rest.at(-1)).toBe('close');
  });

  it('refills over time and forgives a sender that slowed down', () => {
    let now = 0;
    const l = new FrameRateLimiter(5, () => now);
    for (let i = 0; i < 12; i++) l.take();
    now += 2000; // bucket full again
    expect(l.take()).toBe('allow');
    for (let i = 0; i < 9; i++) l.take();
    expect(l.take()).toBe('refuse');
    expect(l.firstRefusal).toBe(true);
  });
});
