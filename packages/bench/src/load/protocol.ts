/**
 * What the coordinator and the load-generator processes say to each other
 * (Node IPC, structured clone), and the format of the bench's message bodies.
 */

/** One WebSocket client a load generator holds. */
export interface ClientSpec {
  /** Bench-wide client number (also the sender number in message bodies). */
  idx: number;
  userId: string;
  token: string;
  /** Conversations this client's user belongs to (the bare-ws server joins these rooms). */
  conversations: string[];
}

export type Target = 'parley' | 'bare';

export interface SenderSpec {
  idx: number;
  conversationId: string;
  /** Messages per second from this client. */
  ratePerSec: number;
}

export type WorkerCommand =
  | { cmd: 'connect'; target: Target; wsUrl: string; clients: ClientSpec[]; ratePerSec: number; timeoutMs: number }
  | { cmd: 'load'; phase: number; startAt: number; durationMs: number; senders: SenderSpec[] }
  | { cmd: 'collect'; phase: number; drainMs: number }
  | { cmd: 'check'; phase: number; acked: AckedBySender; expect: ExpectedSenders }
  | { cmd: 'cursors'; clients: number[] }
  | { cmd: 'disconnect'; clients: number[] | 'all'; forget?: boolean }
  | { cmd: 'resume'; target: Target; wsUrl: string; clients: ResumeSpec[]; phase: number; timeoutMs: number }
  | { cmd: 'stats' }
  | { cmd: 'exit' };

/** Per conversation, which senders' messages a receiver in it must get. */
export type ExpectedSenders = Record<string, number[]>;
/** Per sender, a bitmap of the message numbers the server acknowledged. */
export type AckedBySender = Record<number, Uint8Array>;

export interface ResumeSpec extends ClientSpec {
  /** Messages this client must receive (per conversation) before it counts as caught up. */
  expectCount: Record<string, number>;
}

export interface ConnectResult {
  opened: number;
  failed: number;
  errors: Record<string, number>;
  /** Clients that did not connect (dropped: they are no recipients). */
  failedIdx: number[];
  /** Epoch ms of the first attempt and of the last `ready`. */
  firstAttemptAt: number;
  lastReadyAt: number;
  /** Upgrade + auth until `ready`, per connection (HDR, encoded). */
  readyHist: string;
}

export interface CollectResult {
  sent: number;
  acked: number;
  /** Sends with no answer at the end of the drain. */
  unanswered: number;
  errors: Record<string, number>;
  ackHist: string;
  acked_bits: AckedBySender;
  deliveries: number;
  duplicates: number;
  deliveryHist: string;
  firstDeliveryAt: number;
  lastDeliveryAt: number;
  notifications: number;
  notificationHist: string;
  /** The send loop's own lateness (scheduled vs actual write), HDR encoded. */
  schedulerLagHist: string;
}

export interface CheckResult {
  expected: number;
  missing: number;
  /** A few examples of what went missing: receiver, sender, number. */
  examples: string[];
}

export interface ResumeResult {
  reconnected: number;
  failed: number;
  errors: Record<string, number>;
  caughtUp: number;
  /** From the reconnect start to caught up, per client (HDR, encoded). */
  catchUpHist: string;
  lastCaughtUpAt: number;
  resyncs: number;
  duplicates: number;
  missing: number;
}

export interface StatsResult {
  pid: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  maxRssKb: number;
  open: number;
}

export type WorkerReply = { ok: true; id: number; result: unknown } | { ok: false; id: number; error: string };

/**
 * Message body: `bench.<phase>.<sender>.<n>.<offsetUs>`, where offsetUs is
 * the scheduled send time in µs after the phase start. Short (notification
 * previews keep it whole) and parseable without JSON.
 */
export function encodeBody(phase: number, sender: number, n: number, offsetUs: number): string {
  return `bench.${phase}.${sender}.${n}.${offsetUs}`;
}

export interface DecodedBody {
  phase: number;
  sender: number;
  n: number;
  offsetUs: number;
}

export function decodeBody(s: string): DecodedBody | null {
  if (!s.startsWith('bench.')) return null;
  const parts = s.split('.');
  if (parts.length !== 5) return null;
  const [, phase, sender, n, offsetUs] = parts.map(Number);
  if (![phase, sender, n, offsetUs].every(Number.isSafeInteger)) return null;
  return { phase: phase!, sender: sender!, n: n!, offsetUs: offsetUs! };
}

/** A growable bitmap of message numbers. */
export class BitSet {
  bits: Uint8Array;
  constructor(bytes = 64) {
    this.bits = new Uint8Array(bytes);
  }
  static of(bits: Uint8Array): BitSet {
    const s = new BitSet(0);
    s.bits = bits;
    return s;
  }
  has(n: number): boolean {
    const i = n >> 3;
    return i < this.bits.length && (this.bits[i]! & (1 << (n & 7))) !== 0;
  }
  /** Sets n; false if it was already set. */
  add(n: number): boolean {
    const i = n >> 3;
    if (i >= this.bits.length) {
      const grown = new Uint8Array(Math.max(i + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (n & 7);
    if (this.bits[i]! & mask) return false;
    this.bits[i]! |= mask;
    return true;
  }
  count(): number {
    let c = 0;
    for (const b of this.bits) {
      let v = b;
      while (v) {
        v &= v - 1;
        c++;
      }
    }
    return c;
  }
  *values(): Generator<number> {
    for (let i = 0; i < this.bits.length; i++) {
      const b = this.bits[i]!;
      if (!b) continue;
      for (let j = 0; j < 8; j++) if (b & (1 << j)) yield i * 8 + j;
    }
  }
}
