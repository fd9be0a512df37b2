/**
 * The realtime connection: one WebSocket kept open with reconnect
 * (exponential backoff with full jitter), first-frame authentication (works
 * in browsers, which cannot set headers on an upgrade), heartbeats that detect
 * a dead link, `resume` from the last `rev` seen per conversation, and an
 * offline send queue whose messages keep their `clientMessageId` so a resend
 * after a reconnect can never create a second message.
 *
 * Delivery guarantee to the application: for every conversation whose cursor
 * is known, `message.*` events are handed over in `rev` order, each `rev`
 * once. An event that arrives ahead of a gap is held back until the gap is
 * filled by `resume` (or proven empty), duplicates are dropped.
 */
import type { Attachment, ClientMessageType, Conversation, Message, Notification } from '@parley/contracts';
import { newClientMessageId } from './ids';
import { type HttpClient, ParleyApiError } from './http-client';

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;
/**
 * What `options.WebSocket` accepts: the browser's `WebSocket`, the `ws`
 * package's, or any constructor of a compatible socket. Their declared event
 * types are richer than `WebSocketLike` (which the SDK's own handlers need),
 * so TypeScript cannot relate them; only the constructor shape is checked.
 */
export type AnyWebSocketCtor = WebSocketCtor | (new (url: string) => object);

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'offline' | 'closed';

export interface QueuedMessage {
  clientMessageId: string;
  conversationId: string;
  content: string;
  type?: ClientMessageType;
  attachments?: Attachment[];
  parentId?: string;
  queuedAt: string;
}

/** Where unsent messages survive a reload (e.g. localStorage). */
export interface QueueStore {
  load(): QueuedMessage[];
  save(items: QueuedMessage[]): void;
}

export interface RealtimeEvents {
  'message.created': { message: Message };
  'message.updated': { message: Message };
  'message.deleted': { message: Message };
  typing: { conversationId: string; userId: string; state: 'start' | 'stop' };
  receipt: { conversationId: string; userId: string; kind: 'delivered' | 'read'; seq: number };
  presence: { userId: string; status: 'online' | 'offline'; lastSeenAt: string | null };
  'notification.created': { notification: Notification };
  'conversation.updated': { conversation: Conversation };
  'member.added': { conversationId: string; userId: string };
  'member.removed': { conversationId: string; userId: string };
  resync: { conversationId: string; rev: number };
  ready: { sessionId: string; userId: string; heartbeatMs: number };
  state: { state: ConnectionState };
  queue: { items: QueuedMessage[] };
  /** A queued message the server accepted (also for messages restored from a QueueStore). */
  sent: { clientMessageId: string; message: Message };
  /** A queued message the server refused for good (validation, permission). */
  failed: { clientMessageId: string; error: ParleyApiError };
  /** The session ended (logout, revoked, refresh failed): the connection stays closed. */
  unauthorized: { code: number };
  error: { code: string; message: string };
}
export type RealtimeEventName = keyof RealtimeEvents;

export interface RealtimeOptions {
  http: HttpClient;
  /** WebSocket constructor; defaults to `globalThis.WebSocket` (pass `ws` on Node 20). */
  WebSocket?: AnyWebSocketCtor;
  backoff?: { initialMs?: number; maxMs?: number };
  queueStore?: QueueStore;
  /** How long a request frame (send, resume, presence) waits for its reply. */
  requestTimeoutMs?: number;
  /** Connect at once (default true). */
  autoConnect?: boolean;
  /** How long an out-of-order event waits before the gap is fetched with `resume` (default 500 ms). */
  gapWaitMs?: number;
}

interface Pending {
  resolve: (frame: ServerFrame) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

type ServerFrame = { type: string; replyTo?: string; [k: string]: unknown };

const OPEN = 1;
const RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal', 'network_error']);

export class RealtimeConnection {
  private ws: WebSocketLike | null = null;
  private stateValue: ConnectionState = 'idle';
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** A send refused for now (`rate_limited`, `unavailable`, ...) on an open connection is retried by this timer. */
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private sendRetries = 0;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private heartbeatMs = 25_000;
  private seq = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Map<RealtimeEventName, Set<(data: never) => void>>();
  private readonly cursors = new Map<string, number>();
  private readonly held = new Map<string, Map<number, ServerFrame>>();
  private readonly gapTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly queue: QueuedMessage[];
  private readonly inFlight = new Set<string>();
  private readonly waiters = new Map<string, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  private readonly WS: WebSocketCtor;
  private userId: string | null = null;

  constructor(private readonly opts: RealtimeOptions) {
    const ctor = (opts.WebSocket ?? (globalThis as { WebSocket?: AnyWebSocketCtor }).WebSocket) as
      | WebSocketCtor
      | undefined;
    if (!ctor) throw new Error('no WebSocket implementation: pass options.WebSocket (e.g. the `ws` package)');
    this.WS = ctor;
    this.queue = opts.queueStore?.load() ?? [];
    if (opts.autoConnect !== false) this.connect();
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get queued(): readonly QueuedMessage[] {
    return this.queue;
  }

  /** The last `rev` handed to the application per conversation. */
  get positions(): ReadonlyMap<string, number> {
    return this.cursors;
  }

  on<E extends RealtimeEventName>(event: E, handler: (data: RealtimeEvents[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(handler as (data: never) => void);
    return () => set.delete(handler as (data: never) => void);
  }

  /**
   * Tells the connection the application already holds a conversation up to
   * `rev` (for example after loading its latest page over REST), so events
   * are resumed and ordered from there. Never moves a cursor backwards.
   */
  track(conversationId: string, rev: number): void {
    const cur = this.cursors.get(conversationId);
    if (cur === undefined || rev > cur) this.cursors.set(conversationId, rev);
  }

  connect(): void {
    if (this.stateValue === 'connecting' || this.stateValue === 'open') return;
    this.clearReconnect();
    this.setState('connecting');
    const url = `${this.opts.http.baseUrl.replace(/^http/, 'ws')}/v1/ws`;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const token = this.opts.http.getTokens()?.accessToken;
      if (!token) {
        ws.close(4401, 'no token');
        return;
      }
      ws.send(JSON.stringify({ type: 'auth', token }));
    };
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.onClosed(ev.code);
    };
  }

  /** Closes for good (no reconnect). Queued messages stay queued. */
  close(): void {
    this.setState('closed');
    this.clearReconnect();
    this.stopHeartbeat();
    this.clearSendRetry();
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'client closed');
    this.failPending(new Error('connection closed'));
  }

  /**
   * Sends a message. It is queued first (and kept across reconnects, with its
   * `clientMessageId`) and resolves with the stored message once the server
   * acknowledged it; it rejects only when the server refuses it for good.
   */
  send(
    conversationId: string,
    input: {
      content: string;
      clientMessageId?: string;
      type?: ClientMessageType;
      attachments?: Attachment[];
      parentId?: string;
    },
  ): Promise<Message> {
    const item: QueuedMessage = {
      clientMessageId: input.clientMessageId ?? newClientMessageId(),
      conversationId,
      content: input.content,
      type: input.type,
      attachments: input.attachments,
      parentId: input.parentId,
      queuedAt: new Date().toISOString(),
    };
    const done = new Promise<Message>((resolve, reject) => this.waiters.set(item.clientMessageId, { resolve, reject }));
    this.queue.push(item);
    this.persistQueue();
    if (this.stateValue === 'open') void this.transmit(item);
    return done;
  }

  typing(conversationId: string, state: 'start' | 'stop'): void {
    this.sendFrame({ type: 'typing', conversationId, state });
  }

  read(conversationId: string, seq: number): void {
    this.sendFrame({ type: 'read', conversationId, seq });
  }

  delivered(conversationId: string, seq: number): void {
    this.sendFrame({ type: 'delivered', conversationId, seq });
  }

  async presence(userIds: string[]): Promise<{ userId: string; status: string; lastSeenAt: string | null }[]> {
    const reply = await this.request({ type: 'presence.query', userIds });
    return (reply.users as { userId: string; status: string; lastSeenAt: string | null }[]) ?? [];
  }

  async ping(): Promise<void> {
    await this.request({ type: 'ping' });
  }

  // ---- internals -----------------------------------------------------------

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emit('state', { state });
  }

  private emit<E extends RealtimeEventName>(event: E, data: RealtimeEvents[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const h of [...set]) {
      try {
        (h as (d: RealtimeEvents[E]) => void)(data);
      } catch {
        // A throwing listener must not break delivery to the others.
      }
    }
  }

  private sendFrame(frame: Record<string, unknown>): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this.stateValue !== 'open') return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  private request(
    frame: Record<string, unknown>,
    timeoutMs = this.opts.requestTimeoutMs ?? 15_000,
  ): Promise<ServerFrame> {
    const id = `c${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ParleyApiError(0, 'network_error', `no reply to ${String(frame.type)} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.sendFrame({ ...frame, id })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new ParleyApiError(0, 'network_error', 'not connected'));
      }
    });
  }

  private onFrame(raw: unknown): void {
    this.lastFrameAt = Date.now();
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(raw)) as ServerFrame;
    } catch {
      return;
    }
    if (frame.replyTo && this.pending.has(frame.replyTo)) {
      const p = this.pending.get(frame.replyTo)!;
      this.pending.delete(frame.replyTo);
      clearTimeout(p.timer);
      if (frame.type === 'error') {
        const e = frame.error as { code?: string; message?: string } | undefined;
        const code = (e?.code ?? (frame.code as string) ?? 'internal') as ParleyApiError['code'];
        // `retryAfterMs`: the gateway's advice with a send refused for now (its admission control).
        const retryAfterSec = typeof frame.retryAfterMs === 'number' ? frame.retryAfterMs / 1000 : undefined;
        p.reject(
          new ParleyApiError(0, code, e?.message ?? String(frame.message ?? 'error'), [], undefined, retryAfterSec),
        );
      } else p.resolve(frame);
      return;
    }
    switch (frame.type) {
      case 'ready':
        this.onReady(frame as unknown as RealtimeEvents['ready']);
        return;
      case 'message.created':
      case 'message.updated':
      case 'message.deleted':
        this.onMessageEvent(frame);
        return;
      case 'resync': {
        const { conversationId, rev } = frame as unknown as RealtimeEvents['resync'];
        this.cursors.set(conversationId, rev);
        this.held.delete(conversationId);
        this.emit('resync', { conversationId, rev });
        return;
      }
      case 'pong':
        return;
      case 'error':
        this.emit('error', { code: String(frame.code ?? 'error'), message: String(frame.message ?? '') });
        return;
      default: {
        const { type: _t, ...data } = frame;
        this.emit(frame.type as RealtimeEventName, data as never);
      }
    }
  }

  private onReady(ready: RealtimeEvents['ready']): void {
    this.userId = ready.userId;
    this.heartbeatMs = ready.heartbeatMs || this.heartbeatMs;
    this.attempt = 0;
    this.setState('open');
    this.startHeartbeat();
    this.emit('ready', ready);
    void this.resumeAll().finally(() => this.flushQueue());
  }

  private async resumeAll(conversationIds?: string[]): Promise<void> {
    const ids = conversationIds ?? [...this.cursors.keys()];
    if (ids.length === 0) return;
    const cursors = ids.map((conversationId) => ({ conversationId, rev: this.cursors.get(conversationId) ?? 0 }));
    try {
      await this.request({ type: 'resume', cursors }, 60_000);
    } catch {
      return; // the next reconnect resumes again
    }
    // Whatever is still held after a completed resume has no earlier revs this
    // user may see (e.g. changes from before they joined): hand it over.
    for (const id of ids) this.releaseHeld(id, true);
  }

  private onMessageEvent(frame: ServerFrame): void {
    const message = frame.message as Message;
    const conv = message.conversationId;
    const last = this.cursors.get(conv);
    if (last === undefined || message.rev === last + 1) {
      this.deliver(frame, message);
      this.releaseHeld(conv, false);
      return;
    }
    if (message.rev <= last) return; // seen already
    let held = this.held.get(conv);
    if (!held) {
      held = new Map();
      this.held.set(conv, held);
    }
    held.set(message.rev, frame);
    if (!this.gapTimers.has(conv)) {
      this.gapTimers.set(
        conv,
        setTimeout(() => {
          this.gapTimers.delete(conv);
          if (this.held.get(conv)?.size) void this.resumeAll([conv]);
        }, this.opts.gapWaitMs ?? 500),
      );
    }
  }

  private deliver(frame: ServerFrame, message: Message): void {
    this.cursors.set(message.conversationId, message.rev);
    this.emit(frame.type as 'message.created', { message });
  }

  /** Hands over held events that are next in line; with `force`, all of them in order. */
  private releaseHeld(conv: string, force: boolean): void {
    const held = this.held.get(conv);
    if (!held || held.size === 0) return;
    const revs = [...held.keys()].sort((a, b) => a - b);
    for (const rev of revs) {
      const last = this.cursors.get(conv) ?? 0;
      const frame = held.get(rev)!;
      if (rev <= last) {
        held.delete(rev);
        continue;
      }
      if (rev !== last + 1 && !force) break;
      held.delete(rev);
      this.deliver(frame, frame.message as Message);
    }
    if (held.size === 0) {
      this.held.delete(conv);
      const t = this.gapTimers.get(conv);
      if (t) clearTimeout(t);
      this.gapTimers.delete(conv);
    }
  }

  private flushQueue(): void {
    for (const item of [...this.queue]) void this.transmit(item);
  }

  private async transmit(item: QueuedMessage): Promise<void> {
    if (this.inFlight.has(item.clientMessageId) || this.stateValue !== 'open') return;
    this.inFlight.add(item.clientMessageId);
    try {
      // The frame's own `type` is `message.send`: the message's type travels as `messageType`.
      const { queuedAt: _q, type: messageType, ...fields } = item;
      const reply = await this.request({ ...stripUndefined({ ...fields, messageType }), type: 'message.send' });
      this.sendRetries = 0;
      this.settle(item.clientMessageId, reply.message as Message, null);
    } catch (err) {
      const e = err instanceof ParleyApiError ? err : new ParleyApiError(0, 'network_error', String(err));
      if (!RETRYABLE.has(e.code)) this.settle(item.clientMessageId, null, e);
      // Retryable: stays queued; sent again after the server's `retryAfterMs`
      // (or a backoff) while the connection stays open, else on the next `ready`.
      else this.scheduleSendRetry(e.retryAfterSec);
    } finally {
      this.inFlight.delete(item.clientMessageId);
    }
  }

  /** One timer for every send refused for now: when it fires, what is still queued goes again. */
  private scheduleSendRetry(retryAfterSec?: number): void {
    if (this.stateValue !== 'open' || this.retryTimer) return;
    const initial = this.opts.backoff?.initialMs ?? 250;
    const max = this.opts.backoff?.maxMs ?? 15_000;
    const ceiling = Math.min(max, initial * 2 ** this.sendRetries);
    this.sendRetries += 1;
    const advised = retryAfterSec !== undefined && retryAfterSec >= 0 ? retryAfterSec * 1000 : undefined;
    // Jittered, so the clients refused together do not all come back together.
    const delay = Math.round(
      advised !== undefined ? advised * (1 + Math.random() / 2) : ceiling / 2 + Math.random() * (ceiling / 2),
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.stateValue === 'open') this.flushQueue();
    }, delay);
  }

  private clearSendRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private settle(clientMessageId: string, message: Message | null, error: ParleyApiError | null): void {
    const idx = this.queue.findIndex((q) => q.clientMessageId === clientMessageId);
    if (idx >= 0) this.queue.splice(idx, 1);
    this.persistQueue();
    const waiter = this.waiters.get(clientMessageId);
    this.waiters.delete(clientMessageId);
    if (message) {
      waiter?.resolve(message);
      this.emit('sent', { clientMessageId, message });
    } else if (error) {
      waiter?.reject(error);
      this.emit('failed', { clientMessageId, error });
    }
  }

  private persistQueue(): void {
    this.opts.queueStore?.save([...this.queue]);
    this.emit('queue', { items: [...this.queue] });
  }

  private onClosed(code: number): void {
    this.ws = null;
    this.stopHeartbeat();
    this.clearSendRetry();
    this.failPending(new ParleyApiError(0, 'network_error', `connection closed (${code})`));
    if (this.stateValue === 'closed') return;
    if (code === 4401) {
      this.setState('offline');
      void this.opts.http.refresh().then((ok) => {
        if (ok) this.scheduleReconnect(0);
        else {
          this.setState('closed');
          this.emit('unauthorized', { code });
        }
      });
      return;
    }
    if (code === 4403) {
      this.setState('closed');
      this.emit('unauthorized', { code });
      return;
    }
    this.setState('offline');
    this.scheduleReconnect();
  }

  private scheduleReconnect(delayMs?: number): void {
    this.clearReconnect();
    const initial = this.opts.backoff?.initialMs ?? 250;
    const max = this.opts.backoff?.maxMs ?? 15_000;
    const ceiling = Math.min(max, initial * 2 ** this.attempt);
    this.attempt += 1;
    // Full jitter: spreads a crowd of clients reconnecting after one outage.
    const delay = delayMs ?? Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.stateValue !== 'closed') {
        this.stateValue = 'offline';
        this.connect();
      }
    }, delay);
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.lastFrameAt = Date.now();
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastFrameAt > this.heartbeatMs * 2) {
        // The link is dead without a close: drop it and reconnect.
        const ws = this.ws;
        this.ws = null;
        try {
          ws?.close(4000, 'heartbeat timeout');
        } catch {
          // already closed
        }
        this.onClosed(1006);
        return;
      }
      this.sendFrame({ type: 'ping' });
    }, this.heartbeatMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private failPending(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }

  /** The user this connection is authenticated as (after `ready`). */
  get currentUserId(): string | null {
    return this.userId;
  }
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
