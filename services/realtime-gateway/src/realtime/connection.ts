/**
 * One WebSocket connection: authentication (upgrade header or first `auth`
 * frame within 5 s), per-frame validation and rate limit, the ordered
 * delivery of `message.*` events (no `rev` twice, nothing interleaved with a
 * running `resume`), and slow-reader protection.
 *
 * The behaviour of each frame lives in `RealtimeService`; this class holds
 * the per-socket state and the wire.
 */
import { type ServerFrame, WS_CLOSE } from '@parley/contracts';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { FrameRateLimiter } from './frame-rate';

export type ConnectionState = 'pending' | 'open' | 'closed';

/**
 * A serialized server frame. A frame going to many sockets is encoded to a
 * Buffer once by the caller; ws would otherwise encode a string again for
 * every socket.
 */
export type Frame = string | Buffer;

export interface ConnectionLimits {
  maxBufferedBytes: number;
  frameRatePerSec: number;
}

export interface ConnectionHooks {
  onSlowReader(conn: Connection): void;
  onFrameOut(conn: Connection): void;
}

export class Connection {
  state: ConnectionState = 'pending';
  userId = '';
  sessionId = '';
  /** The user's access token, to call the services on their behalf. */
  token = '';
  /** Last sign of life (frame or pong), ms epoch. */
  lastAliveAt = Date.now();
  readonly limiter: FrameRateLimiter;
  /** `message.send` frames of this connection waiting for the message service (admission control). */
  sendsInFlight = 0;
  /** Its presence key is written (it counts towards its user being online). */
  presenceRegistered = false;
  /** Highest `rev` sent per conversation (drops duplicates). */
  private readonly sentRev = new Map<string, number>();
  /** Conversations with a `resume` running: live message events wait here. */
  private readonly resuming = new Map<string, { rev: number; raw: Frame }[]>();
  private terminateTimer: ReturnType<typeof setTimeout> | null = null;
  /** The TCP socket is corked until the end of this tick (see sendRaw). */
  private corked = false;
  private expiryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    private readonly limits: ConnectionLimits,
    private readonly hooks: ConnectionHooks,
  ) {
    this.limiter = new FrameRateLimiter(limits.frameRatePerSec);
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get isOpen(): boolean {
    return this.state === 'open' && this.socket.readyState === this.socket.OPEN;
  }

  /** Sends a frame object (serialized here: for frames meant for this socket only). */
  send(frame: ServerFrame): void {
    this.sendRaw(JSON.stringify(frame));
  }

  /** Sends an already serialized frame (events are serialized once per gateway). */
  sendRaw(raw: Frame): void {
    if (this.state === 'closed' || this.socket.readyState !== this.socket.OPEN) return;
    const corked = this.corkUntilNextTick();
    this.socket.send(raw, { binary: false });
    this.hooks.onFrameOut(this);
    // While corked, everything sent this tick is buffered by design: the
    // slow-reader check runs after the uncork, on what the kernel refused.
    if (!corked) this.checkBuffered();
  }

  private checkBuffered(): void {
    if (this.state !== 'closed' && this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.hooks.onSlowReader(this);
    }
  }

  /**
   * Frames sent to this socket in one tick (a burst of presence changes, a
   * resume's replay, several events read from the bus at once) leave in one
   * write (writev) instead of one system call each.
   */
  private corkUntilNextTick(): boolean {
    if (this.corked) return true;
    // ws keeps the TCP socket it took over at the upgrade as `_socket`.
    const tcp = (this.socket as unknown as { _socket?: Socket })._socket;
    if (!tcp || tcp.destroyed) return false;
    this.corked = true;
    tcp.cork();
    process.nextTick(() => {
      this.corked = false;
      tcp.uncork();
      this.checkBuffered();
    });
    return true;
  }

  /** A `message.*` event of a conversation, in order, at most once per `rev`. */
  deliverMessage(conversationId: string, rev: number, raw: Frame): void {
    const waiting = this.resuming.get(conversationId);
    if (waiting) {
      waiting.push({ rev, raw });
      return;
    }
    const last = this.sentRev.get(conversationId);
    if (last !== undefined && rev <= last) return;
    this.sentRev.set(conversationId, rev);
    this.sendRaw(raw);
  }

  beginResume(conversationId: string): void {
    if (!this.resuming.has(conversationId)) this.resuming.set(conversationId, []);
  }

  /**
   * Ends a conversation's resume: its missed events (in `rev` order) go out,
   * then whatever arrived live meanwhile that is newer, each `rev` once.
   */
  endResume(conversationId: string, missed: { rev: number; raw: Frame }[], floorRev: number): void {
    const live = this.resuming.get(conversationId) ?? [];
    this.resuming.delete(conversationId);
    const last = this.sentRev.get(conversationId);
    this.sentRev.set(conversationId, Math.max(floorRev, last ?? floorRev));
    const all = [...missed, ...live].sort((a, b) => a.rev - b.rev);
    for (const e of all) this.deliverMessage(conversationId, e.rev, e.raw);
  }

  /** Ends a resume without sending anything (resync): later live events continue from `rev`. */
  abandonResume(conversationId: string, rev: number): void {
    const live = this.resuming.get(conversationId) ?? [];
    this.resuming.delete(conversationId);
    this.sentRev.set(conversationId, rev);
    for (const e of live.sort((a, b) => a.rev - b.rev)) this.deliverMessage(conversationId, e.rev, e.raw);
  }

  forgetConversation(conversationId: string): void {
    this.sentRev.delete(conversationId);
    this.resuming.delete(conversationId);
  }

  /**
   * The access token's end: the connection closes with 4401 then, unless a
   * fresh `auth` frame moved it. Clients refresh and reconnect on 4401, so a
   * send never fails for good on an expired token mid-connection.
   */
  expireAt(epochMs: number): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    // setTimeout holds at most ~24.8 days; tokens live 15 minutes.
    const delay = Math.min(Math.max(0, epochMs - Date.now()), 2_000_000_000);
    this.expiryTimer = setTimeout(() => this.close(CLOSE_UNAUTHORIZED, 'token expired'), delay);
    this.expiryTimer.unref?.();
  }

  /**
   * Closes with a code. A reader that does not read may never see the close
   * frame: the socket is destroyed if it has not closed within 2 s.
   */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
      return;
    }
    this.terminateTimer = setTimeout(() => this.socket.terminate(), 2000);
    this.terminateTimer.unref?.();
  }

  /** Called once the socket is gone. */
  disposed(): void {
    this.state = 'closed';
    if (this.terminateTimer) clearTimeout(this.terminateTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.terminateTimer = null;
    this.expiryTimer = null;
  }
}

export const CLOSE = WS_CLOSE;
const CLOSE_UNAUTHORIZED = WS_CLOSE.unauthorized;
