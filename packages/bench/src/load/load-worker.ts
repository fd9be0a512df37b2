/**
 * A load-generator process: holds a share of the bench's WebSocket clients,
 * sends on a clock-driven schedule (open loop: a late send is still measured
 * from the time it was due) and records what each client receives.
 *
 * Driven by the coordinator over Node IPC (see protocol.ts). Incoming frames
 * on the hot path (`message.created`, `notification.created`) are recognised
 * on the raw bytes without JSON.parse, so that thousands of receivers per
 * process cost little and the generator is not what is being measured.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { nowMs } from '../clock';
import { encodeHistogram, type Histogram, newHistogram, recordMs } from '../histogram';
import {
  type AckedBySender,
  BitSet,
  type CheckResult,
  type ClientSpec,
  type CollectResult,
  type ConnectResult,
  decodeBody,
  encodeBody,
  type ExpectedSenders,
  type ResumeResult,
  type ResumeSpec,
  type SenderSpec,
  type StatsResult,
  type Target,
  type WorkerCommand,
} from './protocol';

interface Pending {
  phase: number;
  n: number;
  sched: number;
}

interface Client {
  spec: ClientSpec;
  ws: WebSocket | null;
  ready: boolean;
  /** Highest `rev` seen per conversation (resume cursors). */
  lastRev: Map<string, number>;
  /** Sends awaiting their ack, by frame id. */
  pending: Map<string, Pending>;
  onReady: (() => void) | null;
  /** Called with true when the gateway answered `resumed`, false on an error to the resume. */
  onResumed: ((ok: boolean) => void) | null;
  expected: Record<string, number> | null;
  resumeStartedAt: number;
}

interface PhaseState {
  phase: number;
  startAt: number;
  sent: number;
  acked: number;
  errors: Record<string, number>;
  ackHist: Histogram;
  deliveryHist: Histogram;
  notificationHist: Histogram;
  lagHist: Histogram;
  deliveries: number;
  duplicates: number;
  firstDeliveryAt: number;
  lastDeliveryAt: number;
  notifications: number;
  /** Acknowledged message numbers per sender. */
  ackedBits: Map<number, BitSet>;
  /** receiver -> sender -> message numbers received. */
  received: Map<number, Map<number, BitSet>>;
  /** receiver -> conversation -> messages of this phase received (resume). */
  receivedPerConv: Map<number, Map<string, number>>;
  sendingDone: boolean;
  // resume
  caughtUp: number;
  catchUpHist: Histogram;
  lastCaughtUpAt: number;
  resyncs: number;
}

const clients = new Map<number, Client>();
const phases = new Map<number, PhaseState>();

const MESSAGE_CREATED = Buffer.from('{"type":"message.created"');
const NOTIFICATION_CREATED = Buffer.from('{"type":"notification.created"');
const CONTENT_KEY = Buffer.from('"content":"');
const BODY_KEY = Buffer.from('"body":"');
const CONV_KEY = Buffer.from('"conversationId":"');
const REV_KEY = Buffer.from('"rev":');
const QUOTE = 0x22;

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

function stringAfter(buf: Buffer, key: Buffer): string | null {
  const i = buf.indexOf(key);
  if (i < 0) return null;
  const start = i + key.length;
  const end = buf.indexOf(QUOTE, start);
  return end < 0 ? null : buf.toString('latin1', start, end);
}

function intAfter(buf: Buffer, key: Buffer): number {
  const i = buf.indexOf(key);
  if (i < 0) return -1;
  let v = 0;
  let j = i + key.length;
  let any = false;
  for (; j < buf.length; j++) {
    const c = buf[j]!;
    if (c < 0x30 || c > 0x39) break;
    v = v * 10 + (c - 0x30);
    any = true;
  }
  return any ? v : -1;
}

function newPhase(phase: number, startAt: number): PhaseState {
  return {
    phase,
    startAt,
    sent: 0,
    acked: 0,
    errors: {},
    ackHist: newHistogram(),
    deliveryHist: newHistogram(),
    notificationHist: newHistogram(),
    lagHist: newHistogram(),
    deliveries: 0,
    duplicates: 0,
    firstDeliveryAt: 0,
    lastDeliveryAt: 0,
    notifications: 0,
    ackedBits: new Map(),
    received: new Map(),
    receivedPerConv: new Map(),
    sendingDone: false,
    caughtUp: 0,
    catchUpHist: newHistogram(),
    lastCaughtUpAt: 0,
    resyncs: 0,
  };
}

function countError(errors: Record<string, number>, code: string): void {
  errors[code] = (errors[code] ?? 0) + 1;
}

// ---- receiving ---------------------------------------------------------------

function onData(client: Client, data: Buffer): void {
  if (startsWith(data, MESSAGE_CREATED)) {
    onMessageCreated(client, data);
    return;
  }
  if (startsWith(data, NOTIFICATION_CREATED)) {
    const body = stringAfter(data, BODY_KEY);
    const decoded = body ? decodeBody(body) : null;
    const ph = decoded ? phases.get(decoded.phase) : undefined;
    if (decoded && ph) {
      ph.notifications++;
      recordMs(ph.notificationHist, nowMs() - (ph.startAt + decoded.offsetUs / 1000));
    }
    return;
  }
  let frame: { type?: string; replyTo?: string; code?: string; error?: { code?: string } };
  try {
    frame = JSON.parse(data.toString('utf8'));
  } catch {
    return;
  }
  switch (frame.type) {
    case 'ready':
      client.ready = true;
      client.onReady?.();
      return;
    case 'ack':
    case 'error': {
      if (!frame.replyTo) {
        if (frame.type === 'error') countOrphanError(frame.code ?? frame.error?.code ?? 'error');
        return;
      }
      if (frame.replyTo.startsWith('resume')) {
        if (frame.type === 'error') countError(resumeErrors, `resume:${frame.code ?? frame.error?.code ?? 'error'}`);
        client.onResumed?.(frame.type === 'ack');
        return;
      }
      const p = client.pending.get(frame.replyTo);
      if (!p) return;
      client.pending.delete(frame.replyTo);
      const ph = phases.get(p.phase);
      if (!ph) return;
      if (frame.type === 'ack') {
        ph.acked++;
        recordMs(ph.ackHist, nowMs() - p.sched);
        let bits = ph.ackedBits.get(client.spec.idx);
        if (!bits) {
          bits = new BitSet();
          ph.ackedBits.set(client.spec.idx, bits);
        }
        bits.add(p.n);
      } else {
        countError(ph.errors, frame.error?.code ?? frame.code ?? 'error');
      }
      return;
    }
    case 'resumed':
      client.onResumed?.(true);
      return;
    case 'resync':
      for (const ph of phases.values()) ph.resyncs++;
      return;
    default:
      return;
  }
}

let orphanErrors: Record<string, number> = {};
/** Error frames answering a `resume` during the running resume() (reported with its reconnect failures). */
let resumeErrors: Record<string, number> = {};
function countOrphanError(code: string): void {
  countError(orphanErrors, code);
}

function onMessageCreated(client: Client, data: Buffer): void {
  const conversationId = stringAfter(data, CONV_KEY);
  const rev = intAfter(data, REV_KEY);
  if (conversationId && rev >= 0) {
    const last = client.lastRev.get(conversationId) ?? -1;
    if (rev > last) client.lastRev.set(conversationId, rev);
  }
  const content = stringAfter(data, CONTENT_KEY);
  if (!content) return;
  const body = decodeBody(content);
  if (!body) return;
  const ph = phases.get(body.phase);
  if (!ph || body.sender === client.spec.idx) return;
  const now = nowMs();
  let bySender = ph.received.get(client.spec.idx);
  if (!bySender) {
    bySender = new Map();
    ph.received.set(client.spec.idx, bySender);
  }
  let bits = bySender.get(body.sender);
  if (!bits) {
    bits = new BitSet();
    bySender.set(body.sender, bits);
  }
  if (!bits.add(body.n)) {
    ph.duplicates++;
    return;
  }
  ph.deliveries++;
  if (ph.firstDeliveryAt === 0) ph.firstDeliveryAt = now;
  ph.lastDeliveryAt = now;
  recordMs(ph.deliveryHist, now - (ph.startAt + body.offsetUs / 1000));
  if (client.expected && conversationId) {
    let perConv = ph.receivedPerConv.get(client.spec.idx);
    if (!perConv) {
      perConv = new Map();
      ph.receivedPerConv.set(client.spec.idx, perConv);
    }
    perConv.set(conversationId, (perConv.get(conversationId) ?? 0) + 1);
    if (isCaughtUp(client, perConv)) markCaughtUp(client, ph, now);
  }
}

function markCaughtUp(client: Client, ph: PhaseState, now: number): void {
  client.expected = null;
  ph.caughtUp++;
  ph.lastCaughtUpAt = now;
  recordMs(ph.catchUpHist, now - client.resumeStartedAt);
}

function isCaughtUp(client: Client, perConv: Map<string, number>): boolean {
  for (const [conv, n] of Object.entries(client.expected ?? {})) if ((perConv.get(conv) ?? 0) < n) return false;
  return true;
}

// ---- connecting --------------------------------------------------------------

function wsUrlFor(target: Target, base: string, spec: ClientSpec): string {
  if (target === 'parley') return base;
  return `${base}?c=${spec.idx}&rooms=${spec.conversations.join(',')}`;
}

/** Opens one client's socket; resolves once `ready` arrived (or rejects with a short reason). */
function open(client: Client, target: Target, wsUrl: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrlFor(target, wsUrl, client.spec), {
      headers: { authorization: `Bearer ${client.spec.token}` },
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: timeoutMs,
    });
    client.ws = ws;
    client.ready = false;
    let settled = false;
    const timer = setTimeout(() => fail('timeout'), timeoutMs);
    function fail(reason: string) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.onReady = null;
      ws.terminate();
      reject(new Error(reason));
    }
    client.onReady = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.onReady = null;
      resolve();
    };
    ws.on('message', (data: Buffer) => onData(client, data));
    ws.on('unexpected-response', (_req, res) => fail(`http_${res.statusCode}`));
    ws.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message.slice(0, 60)));
    ws.on('close', (code) => {
      client.ready = false;
      if (client.ws === ws) client.ws = null;
      fail(`closed_${code}`);
    });
  });
}

async function connect(
  target: Target,
  wsUrl: string,
  specs: ClientSpec[],
  ratePerSec: number,
  timeoutMs: number,
): Promise<ConnectResult> {
  const readyHist = newHistogram();
  const errors: Record<string, number> = {};
  let opened = 0;
  let failed = 0;
  let lastReadyAt = 0;
  const failedIdx: number[] = [];
  const firstAttemptAt = nowMs();
  const attempts: Promise<void>[] = [];
  for (let i = 0; i < specs.length; i++) {
    const due = firstAttemptAt + (i * 1000) / ratePerSec;
    const wait = due - nowMs();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const spec = specs[i]!;
    let client = clients.get(spec.idx);
    if (!client) {
      client = {
        spec,
        ws: null,
        ready: false,
        lastRev: new Map(),
        pending: new Map(),
        onReady: null,
        onResumed: null,
        expected: null,
        resumeStartedAt: 0,
      };
      clients.set(spec.idx, client);
    } else {
      client.spec = spec;
    }
    const c = client;
    attempts.push(
      open(c, target, wsUrl, timeoutMs).then(
        () => {
          opened++;
          const t = nowMs();
          lastReadyAt = Math.max(lastReadyAt, t);
          recordMs(readyHist, t - due);
        },
        (err: Error) => {
          failed++;
          failedIdx.push(c.spec.idx);
          countError(errors, err.message);
          // Not connected, so not a recipient: only connected clients are held to account.
          clients.delete(c.spec.idx);
        },
      ),
    );
  }
  await Promise.all(attempts);
  return { opened, failed, errors, failedIdx, firstAttemptAt, lastReadyAt, readyHist: encodeHistogram(readyHist) };
}

// ---- sending ---------------------------------------------------------------------

interface Due {
  at: number;
  sender: SenderSpec;
  k: number;
  phaseShift: number;
}

/** A small binary min-heap on `at`. */
class DueHeap {
  private items: Due[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Due | undefined {
    return this.items[0];
  }
  push(d: Due): void {
    const a = this.items;
    a.push(d);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.at <= a[i]!.at) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): Due | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.at < a[m]!.at) m = l;
        if (r < a.length && a[r]!.at < a[m]!.at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

function runLoad(phase: number, startAt: number, durationMs: number, senders: SenderSpec[]): void {
  const ph = newPhase(phase, startAt);
  phases.set(phase, ph);
  const end = startAt + durationMs;
  const heap = new DueHeap();
  for (const s of senders) {
    if (s.ratePerSec <= 0) continue;
    // Spread the senders' first sends over one interval (golden-ratio offsets).
    const phaseShift = (s.idx * 0.6180339887) % 1;
    const at = startAt + (phaseShift * 1000) / s.ratePerSec;
    if (at < end) heap.push({ at, sender: s, k: 0, phaseShift });
  }
  const tick = () => {
    const now = nowMs();
    while (heap.size > 0 && heap.peek()!.at <= now) {
      const d = heap.pop()!;
      sendOne(ph, d, now);
      const next = startAt + ((d.k + 1 + d.phaseShift) * 1000) / d.sender.ratePerSec;
      if (next < end) heap.push({ ...d, at: next, k: d.k + 1 });
    }
    const next = heap.peek();
    if (!next) {
      ph.sendingDone = true;
      return;
    }
    setTimeout(tick, Math.max(0, next.at - nowMs()));
  };
  setTimeout(tick, Math.max(0, startAt - nowMs()));
}

function sendOne(ph: PhaseState, d: Due, now: number): void {
  const client = clients.get(d.sender.idx);
  ph.sent++;
  recordMs(ph.lagHist, now - d.at);
  if (!client?.ws || !client.ready || client.ws.readyState !== WebSocket.OPEN) {
    countError(ph.errors, 'not_connected');
    return;
  }
  const offsetUs = Math.round((d.at - ph.startAt) * 1000);
  const id = `${ph.phase}.${d.k}`;
  client.pending.set(id, { phase: ph.phase, n: d.k, sched: d.at });
  client.ws.send(
    `{"type":"message.send","id":"${id}","conversationId":"${d.sender.conversationId}","clientMessageId":"${randomUUID()}","content":"${encodeBody(ph.phase, d.sender.idx, d.k, offsetUs)}"}`,
  );
}

async function collect(phase: number, drainMs: number): Promise<CollectResult> {
  const ph = phases.get(phase);
  if (!ph) throw new Error(`no phase ${phase}`);
  const deadline = nowMs() + drainMs;
  const pendingOf = () => {
    let n = 0;
    for (const c of clients.values()) for (const p of c.pending.values()) if (p.phase === phase) n++;
    return n;
  };
  while ((!ph.sendingDone || pendingOf() > 0) && nowMs() < deadline) await new Promise((r) => setTimeout(r, 50));
  const acked: AckedBySender = {};
  for (const [idx, bits] of ph.ackedBits) acked[idx] = bits.bits;
  return {
    sent: ph.sent,
    acked: ph.acked,
    unanswered: pendingOf(),
    errors: ph.errors,
    ackHist: encodeHistogram(ph.ackHist),
    acked_bits: acked,
    deliveries: ph.deliveries,
    duplicates: ph.duplicates,
    deliveryHist: encodeHistogram(ph.deliveryHist),
    firstDeliveryAt: ph.firstDeliveryAt,
    lastDeliveryAt: ph.lastDeliveryAt,
    notifications: ph.notifications,
    notificationHist: encodeHistogram(ph.notificationHist),
    schedulerLagHist: encodeHistogram(ph.lagHist),
  };
}

/** Every acknowledged message of a conversation's senders must have reached each of its other clients here. */
function check(phase: number, acked: AckedBySender, expect: ExpectedSenders): CheckResult {
  const ph = phases.get(phase);
  let expected = 0;
  let missing = 0;
  const examples: string[] = [];
  for (const client of clients.values()) {
    for (const conv of client.spec.conversations) {
      for (const sender of expect[conv] ?? []) {
        if (sender === client.spec.idx) continue;
        const sent = acked[sender];
        if (!sent) continue;
        const got = ph?.received.get(client.spec.idx)?.get(sender);
        for (const n of BitSet.of(sent).values()) {
          expected++;
          if (!got?.has(n)) {
            missing++;
            if (examples.length < 5) examples.push(`receiver ${client.spec.idx} sender ${sender} n ${n}`);
          }
        }
      }
    }
  }
  return { expected, missing, examples };
}

// ---- disconnect and resume -----------------------------------------------------------

/** Closes sockets; `forget` also drops the clients (they no longer count as recipients). */
async function disconnect(which: number[] | 'all', forget = false): Promise<number> {
  const list = which === 'all' ? [...clients.values()] : which.map((i) => clients.get(i)).filter((c) => !!c);
  if (forget) for (const c of list) clients.delete(c.spec.idx);
  let closed = 0;
  await Promise.all(
    list.map(
      (c) =>
        new Promise<void>((resolve) => {
          const ws = c.ws;
          c.ready = false;
          c.ws = null;
          if (!ws || ws.readyState === WebSocket.CLOSED) return resolve();
          closed++;
          ws.once('close', () => resolve());
          ws.terminate();
        }),
    ),
  );
  return closed;
}

async function resume(
  target: Target,
  wsUrl: string,
  specs: ResumeSpec[],
  phase: number,
  timeoutMs: number,
): Promise<ResumeResult> {
  const ph = phases.get(phase) ?? newPhase(phase, nowMs());
  phases.set(phase, ph);
  const errors: Record<string, number> = {};
  resumeErrors = errors;
  let reconnected = 0;
  let failed = 0;
  const startedAt = nowMs();
  await Promise.all(
    specs.map(async (spec) => {
      const client = clients.get(spec.idx);
      if (!client) {
        failed++;
        countError(errors, 'unknown_client');
        return;
      }
      client.spec = spec;
      client.expected = spec.expectCount;
      client.resumeStartedAt = startedAt;
      try {
        await open(client, target, wsUrl, timeoutMs);
        reconnected++;
      } catch (err) {
        failed++;
        countError(errors, (err as Error).message);
        return;
      }
      const cursors = spec.conversations.map((conversationId) => ({
        conversationId,
        rev: client.lastRev.get(conversationId) ?? 0,
      }));
      const resumed = new Promise<boolean>((resolve) => {
        client.onResumed = resolve;
      });
      client.ws?.send(JSON.stringify({ type: 'resume', id: `resume-${spec.idx}`, cursors }));
      const ok = await Promise.race([resumed, new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
      client.onResumed = null;
      // A client whose conversations got nothing while it was away is caught up
      // once the gateway confirms the resume (no delivery would ever say so).
      if (ok && client.expected && isCaughtUp(client, ph.receivedPerConv.get(spec.idx) ?? new Map())) {
        markCaughtUp(client, ph, nowMs());
      }
    }),
  );
  // Caught up means every expected message arrived; wait for the stragglers.
  const deadline = startedAt + timeoutMs;
  while (ph.caughtUp < reconnected && nowMs() < deadline) await new Promise((r) => setTimeout(r, 20));
  let missing = 0;
  for (const spec of specs) {
    const got = ph.receivedPerConv.get(spec.idx);
    for (const [conv, n] of Object.entries(spec.expectCount)) missing += Math.max(0, n - (got?.get(conv) ?? 0));
  }
  return {
    reconnected,
    failed,
    errors,
    caughtUp: ph.caughtUp,
    catchUpHist: encodeHistogram(ph.catchUpHist),
    lastCaughtUpAt: ph.lastCaughtUpAt,
    resyncs: ph.resyncs,
    duplicates: ph.duplicates,
    missing,
  };
}

function stats(): StatsResult {
  const u = process.resourceUsage();
  let open = 0;
  for (const c of clients.values()) if (c.ready) open++;
  return { pid: process.pid, cpuUserUs: u.userCPUTime, cpuSystemUs: u.systemCPUTime, maxRssKb: u.maxRSS, open };
}

// ---- IPC -------------------------------------------------------------------------------

async function handle(command: WorkerCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'connect':
      return connect(command.target, command.wsUrl, command.clients, command.ratePerSec, command.timeoutMs);
    case 'load':
      runLoad(command.phase, command.startAt, command.durationMs, command.senders);
      return null;
    case 'collect':
      return collect(command.phase, command.drainMs);
    case 'check':
      return check(command.phase, command.acked, command.expect);
    case 'cursors': {
      const out: Record<number, Record<string, number>> = {};
      for (const idx of command.clients) out[idx] = Object.fromEntries(clients.get(idx)?.lastRev ?? []);
      return out;
    }
    case 'disconnect':
      return disconnect(command.clients, command.forget);
    case 'resume':
      return resume(command.target, command.wsUrl, command.clients, command.phase, command.timeoutMs);
    case 'stats': {
      const s = stats();
      const errors = orphanErrors;
      orphanErrors = {};
      return { ...s, orphanErrors: errors };
    }
    case 'exit':
      await disconnect('all', true);
      setImmediate(() => process.exit(0));
      return null;
  }
}

process.on('message', (msg: { id: number; command: WorkerCommand }) => {
  handle(msg.command).then(
    (result) => process.send?.({ ok: true, id: msg.id, result }),
    (err: Error) => process.send?.({ ok: false, id: msg.id, error: err.stack ?? err.message }),
  );
});
// The coordinator went away: nothing left to measure for.
process.on('disconnect', () => process.exit(0));
process.send?.({ ok: true, id: 0, result: 'started' });
