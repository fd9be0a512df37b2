/**
 * A wall clock with sub-millisecond resolution that agrees across processes.
 *
 * `Date.now()` is shared by every process but only has millisecond
 * resolution; `performance.now()` is fine-grained but its origin differs per
 * process. We pin the monotonic clock to the wall clock at the instant the
 * wall clock ticks over to a new millisecond, so two processes on the same
 * machine read the same time within a few microseconds. Latencies that span
 * processes (sender in one load generator, receiver in another) rely on it.
 */
let offsetMs = calibrate();

function calibrate(): number {
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const start = Date.now();
    let wall = start;
    let mono = 0;
    while (wall === start) {
      wall = Date.now();
      mono = performance.now();
    }
    // Read right after the tick: the true wall time is `wall` plus a few µs,
    // so the largest estimate is the closest one.
    best = Math.max(best, wall - mono);
  }
  return best;
}

/** Wall-clock time in milliseconds (fractional), comparable across processes. */
export function nowMs(): number {
  return performance.now() + offsetMs;
}

/** Re-pins the clock (long runs: the two clocks may drift apart by a little). */
export function recalibrateClock(): void {
  offsetMs = calibrate();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
