/**
 * The frames of API.md's realtime protocol, one handler each. Sends, reads,
 * deliveries and resumes go to the message service's own HTTP routes with the
 * user's token, so they share the REST path's rules, idempotency and errors.
 */
import {
  type ClientFrame,
  type ErrorDetail,
  LIMITS,
  type Message,
  type ServerFrame,
  WS_CLOSE,
  WS_LIMITS,
} from '@parley/contracts';
import { newId } from '@parley/service-kit';
import type { Logger } from 'pino';
import type { RawData } from 'ws';
import type { GatewayConfig } from '../config';
import type { Connection } from './connection';
import { frameIdOf, parseClientFrame } from './frames';
import type { PresenceRepository } from './presence.repository';
import type { RealtimeMetrics } from './realtime.metrics';
import { frameTypeOfChange, type RealtimeHub } from './realtime.service';
import type { UpstreamClient, UpstreamError } from './upstream.client';

export interface ProtocolDeps {
  config: GatewayConfig;
  hub: RealtimeHub;
  presence: PresenceRepository;
  upstream: UpstreamClient;
  metrics: RealtimeMetrics;
  logger: Logger;
  verify(token: string): Promise<{ userId: string; sessionId: string; exp: number }>;
}

/** Frames received while authentication is still running wait here (bounded). */
const MAX_QUEUED_FRAMES = 32;
const CHANGES_PAGE = 200;
/** Bounds of the `retryAfterMs` advice given with a refused send. */
const RETRY_AFTER_MIN_MS = 50;
const RETRY_AFTER_MAX_MS = 5000;

export class RealtimeProtocol {
  /** `message.send` frames of every connection waiting for the message service. */
  private sendsInFlight = 0;
  /** Moving average of how long a send takes upstream: the retry advice of a refused one. */
  private sendMs = 100;
  /** Set at shutdown: closing sockets no longer touch presence. */
  private stopping = false;

  constructor(private readonly deps: ProtocolDeps) {}

  /**
   * Wires a freshly upgraded socket. Listeners are attached synchronously
   * (PITFALLS: awaiting first would drop early frames).
   */
  accept(conn: Connection, opts: { headerToken?: string; originAllowed: boolean }): void {
    const queued: string[] = [];
    let authenticating = false;
    let attached = false;
    let authTimer: ReturnType<typeof setTimeout> | null = null;

    const onAuthenticated = () => {
      for (const raw of queued.splice(0)) void this.onFrame(conn, raw);
    };
    const authenticate = async (token: string, replyTo?: string) => {
      authenticating = true;
      try {
        const ok = await this.authenticate(conn, token, replyTo);
        attached = ok;
        if (ok) onAuthenticated();
      } finally {
        authenticating = false;
        if (authTimer) clearTimeout(authTimer);
        authTimer = null;
      }
    };

    conn.socket.on('message', (data: RawData, isBinary: boolean) => {
      conn.lastAliveAt = Date.now();
      if (conn.state === 'closed') return;
      const raw = isBinary ? '' : rawToString(data);
      if (!this.admit(conn, raw)) return;
      if (isBinary) {
        this.error(conn, 'bad_request', 'frames are JSON text');
        return;
      }
      if (conn.state === 'open') {
        void this.onFrame(conn, raw);
        return;
      }
      if (authenticating) {
        if (queued.length < MAX_QUEUED_FRAMES) queued.push(raw);
        return;
      }
      const parsed = parseClientFrame(raw);
      if (parsed.ok && parsed.frame.type === 'auth') {
        this.deps.metrics.framesIn.inc({ type: 'auth' });
        void authenticate(parsed.frame.token, parsed.frame.id);
        return;
      }
      conn.close(WS_CLOSE.unauthorized, 'authenticate first');
    });
    conn.socket.on('pong', () => {
      conn.lastAliveAt = Date.now();
    });
    conn.socket.on('error', (err) => this.deps.logger.debug({ err }, 'socket error'));
    conn.socket.on('close', () => {
      if (authTimer) clearTimeout(authTimer);
      conn.disposed();
      if (attached) void this.onClosed(conn);
    });

    if (!opts.originAllowed) {
      conn.close(WS_CLOSE.forbiddenOrigin, 'origin not allowed');
      return;
    }
    if (opts.headerToken) {
      void authenticate(opts.headerToken);
      return;
    }
    authTimer = setTimeout(() => {
      if (conn.state === 'pending') conn.close(WS_CLOSE.unauthorized, 'authentication timeout');
    }, WS_LIMITS.authTimeoutMs);
    authTimer.unref?.();
  }

  /** The frame rate limit: a refused frame with an id still gets its one reply (`rate_limited`). */
  private admit(conn: Connection, raw: string): boolean {
    const verdict = conn.limiter.take();
    if (verdict === 'allow') return true;
    if (verdict === 'close') {
      this.deps.metrics.rateLimitedCloses.inc();
      conn.close(WS_CLOSE.rateLimited, 'frame rate exceeded');
      return false;
    }
    const replyTo = frameIdOf(raw);
    if (replyTo || conn.limiter.firstRefusal) {
      this.error(conn, 'rate_limited', 'too many frames, slow down', { replyTo });
    }
    return false;
  }

  /** Verifies the token and, for a new connection, registers it; false when the socket was closed. */
  private async authenticate(conn: Connection, token: string, replyTo?: string): Promise<boolean> {
    let verified: { userId: string; sessionId: string; exp: number };
    try {
      verified = await this.deps.verify(token);
    } catch {
      conn.close(WS_CLOSE.unauthorized, 'invalid token');
      return false;
    }
    if (conn.state === 'closed') return false;
    if (conn.state === 'open') {
      // A fresh token on a live connection (e.g. after a refresh): same user only.
      if (verified.userId !== conn.userId) {
        conn.close(WS_CLOSE.unauthorized, 'token of another user');
        return false;
      }
      conn.token = token;
      conn.sessionId = verified.sessionId;
      conn.expireAt(verified.exp * 1000);
      this.sendReady(conn, replyTo);
      return true;
    }
    conn.userId = verified.userId;
    conn.sessionId = verified.sessionId;
    conn.token = token;
    try {
      await this.deps.hub.attach(conn);
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not load memberships');
      conn.send({ type: 'error', code: 'unavailable', message: 'memberships unavailable, reconnect later' });
      conn.close(1013, 'try again later');
      return false;
    }
    if (conn.isClosed) {
      this.deps.hub.detach(conn);
      return false;
    }
    conn.state = 'open';
    conn.expireAt(verified.exp * 1000);
    this.sendReady(conn, replyTo);
    void this.markOnline(conn);
    return true;
  }

  private sendReady(conn: Connection, replyTo?: string): void {
    conn.send({
      type: 'ready',
      ...(replyTo ? { replyTo } : {}),
      sessionId: conn.sessionId,
      userId: conn.userId,
      heartbeatMs: this.deps.config.WS_HEARTBEAT_MS,
    });
  }

  private async markOnline(conn: Connection): Promise<void> {
    const { hub, presence } = this.deps;
    try {
      // Another registered connection here: online already, no need to ask the store or tell anyone.
      const knownOnline = hub.hasOtherOnline(conn.userId, conn);
      const wasOnline = await presence.addConnection(conn.userId, conn.id, new Date(), { knownOnline });
      conn.presenceRegistered = true;
      if (!wasOnline) hub.publishPresence(conn.userId, 'online', null);
    } catch (err) {
      this.deps.logger.warn({ err }, 'presence unavailable');
    }
  }

  private async onClosed(conn: Connection): Promise<void> {
    // At shutdown the presence of every socket is removed at once, before the store closes.
    if (this.stopping) {
      this.deps.hub.detach(conn);
      return;
    }
    const conversations = this.deps.hub.conversationsOf(conn.userId);
    const knownOnline = this.deps.hub.hasOtherOnline(conn.userId, conn);
    this.deps.hub.detach(conn);
    try {
      const now = new Date();
      const stillOnline = await this.deps.presence.removeConnection(conn.userId, conn.id, now, { knownOnline });
      if (!stillOnline) this.publishOffline(conn.userId, now.toISOString(), conversations);
    } catch (err) {
      this.deps.logger.warn({ err }, 'presence unavailable');
    }
  }

  /**
   * Gateway shutdown, before the key-value store and the bus close: every
   * socket is closed with 1001 (clients reconnect elsewhere and `resume`),
   * the presence of all of them is removed in one batch per user (users left
   * with no connection anywhere go offline), and the sockets get up to
   * `waitMs` to finish their close handshake. Sockets closing later touch
   * neither the store nor the bus.
   */
  async shutdown(conns: Connection[], waitMs = 2000): Promise<void> {
    this.stopping = true;
    const { hub, presence, logger } = this.deps;
    const byUser = new Map<string, { ids: string[]; conversations: string[] }>();
    for (const c of conns) {
      if (c.state !== 'open' || !c.presenceRegistered) continue;
      let entry = byUser.get(c.userId);
      if (!entry) {
        entry = { ids: [], conversations: hub.conversationsOf(c.userId) };
        byUser.set(c.userId, entry);
      }
      entry.ids.push(c.id);
    }
    const closed = conns.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.socket.readyState === c.socket.CLOSED) resolve();
          else c.socket.once('close', () => resolve());
        }),
    );
    for (const c of conns) c.close(WS_CLOSE.goingAway, 'server going away');

    const now = new Date();
    let failed = 0;
    let lastError: unknown;
    await Promise.all(
      [...byUser].map(async ([userId, { ids, conversations }]) => {
        try {
          if (!(await presence.removeConnections(userId, ids, now))) {
            this.publishOffline(userId, now.toISOString(), conversations);
          }
        } catch (err) {
          failed += 1;
          lastError = err;
        }
      }),
    );
    if (failed > 0) logger.warn({ err: lastError, users: failed }, 'presence unavailable at shutdown');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private publishOffline(userId: string, lastSeenAt: string, conversations: string[]): void {
    // Captured before detach: the hub forgets the conversations of a user with no connection here.
    this.deps.hub.publishPresenceFor(userId, 'offline', lastSeenAt, conversations);
  }

  /** When a refused send should come again: about when a send in flight now will have finished. */
  private retryAfterMs(): number {
    return Math.round(Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, this.sendMs)));
  }

  /** Heartbeat of one connection; false when it missed two intervals and was dropped. */
  heartbeat(conn: Connection, now: number): boolean {
    if (now - conn.lastAliveAt > this.deps.config.WS_HEARTBEAT_MS * 2) {
      conn.socket.terminate();
      return false;
    }
    try {
      conn.socket.ping();
    } catch {
      // closing already
    }
    if (conn.state === 'open') {
      this.deps.presence.refreshConnection(conn.userId, conn.id, new Date(now)).catch(() => {});
    }
    return true;
  }

  // ---- frames ---------------------------------------------------------------

  private async onFrame(conn: Connection, raw: string): Promise<void> {
    const parsed = parseClientFrame(raw);
    if (!parsed.ok) {
      this.deps.metrics.framesIn.inc({ type: 'invalid' });
      this.error(conn, parsed.code, parsed.message, { replyTo: parsed.replyTo, details: parsed.details });
      return;
    }
    const frame = parsed.frame;
    this.deps.metrics.framesIn.inc({ type: frame.type });
    try {
      await this.handle(conn, frame);
    } catch (err) {
      this.deps.logger.error({ err, frame: frame.type }, 'frame handler failed');
      this.error(conn, 'internal', 'internal error', { replyTo: frame.id });
    }
  }

  private async handle(conn: Connection, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'auth':
        await this.authenticate(conn, frame.token, frame.id);
        return;
      case 'ping':
        conn.send({ type: 'pong', ...(frame.id ? { replyTo: frame.id } : {}) });
        return;
      case 'message.send':
        return this.send(conn, frame);
      case 'typing': {
        if (!(await this.deps.hub.ensureMember(conn.userId, frame.conversationId))) {
          this.error(conn, 'not_found', 'conversation not found', { replyTo: frame.id });
          return;
        }
        await this.deps.hub.typing(conn, frame.conversationId, frame.state);
        if (frame.id) conn.send({ type: 'ack', replyTo: frame.id });
        return;
      }
      case 'read':
      case 'delivered': {
        const res = await this.deps.upstream.call({
          service: 'message',
          method: 'POST',
          path: `/v1/conversations/${frame.conversationId}/${frame.type}`,
          token: conn.token,
          requestId: newId(),
          body: { seq: frame.seq },
        });
        if (!res.ok) this.upstreamError(conn, res.error, frame.id);
        else if (frame.id) conn.send({ type: 'ack', replyTo: frame.id });
        return;
      }
      case 'resume':
        return this.resume(conn, frame);
      case 'presence.query': {
        const asked = [...new Set(frame.userIds.map((u) => u.toLowerCase()))];
        let users: Awaited<ReturnType<PresenceRepository['query']>>;
        try {
          // Only users sharing a conversation with the caller: to anyone else a
          // user is shown offline and never seen, so presence leaks to no stranger.
          const visible = await this.deps.hub.sharingConversationWith(conn.userId, asked);
          const known = await this.deps.presence.query(asked.filter((u) => visible.has(u)));
          const byId = new Map(known.map((u) => [u.userId, u]));
          users = asked.map((userId) => byId.get(userId) ?? { userId, status: 'offline', lastSeenAt: null });
        } catch {
          this.error(conn, 'unavailable', 'presence is unavailable', { replyTo: frame.id });
          return;
        }
        conn.send({ type: 'presence.state', replyTo: frame.id, users });
        return;
      }
    }
  }

  /**
   * Admission control: a send goes to the message service only while this
   * connection has fewer than WS_SENDS_IN_FLIGHT_PER_CONNECTION and the
   * gateway fewer than WS_SENDS_IN_FLIGHT_MAX sends waiting there; any other
   * is refused at once, before anything is stored (`rate_limited` for the
   * connection's bound, `unavailable` for the gateway's), with `retryAfterMs`,
   * rather than queued behind a backlog until the upstream timeout.
   */
  private async send(conn: Connection, frame: Extract<ClientFrame, { type: 'message.send' }>): Promise<void> {
    const { config, metrics } = this.deps;
    if (conn.sendsInFlight >= config.WS_SENDS_IN_FLIGHT_PER_CONNECTION) {
      metrics.sendsRefused.inc({ bound: 'connection' });
      this.error(conn, 'rate_limited', 'too many sends waiting for an answer on this connection, retry later', {
        replyTo: frame.id,
        retryAfterMs: this.retryAfterMs(),
      });
      return;
    }
    if (this.sendsInFlight >= config.WS_SENDS_IN_FLIGHT_MAX) {
      metrics.sendsRefused.inc({ bound: 'gateway' });
      this.error(conn, 'unavailable', 'the message service is saturated, retry later', {
        replyTo: frame.id,
        retryAfterMs: this.retryAfterMs(),
      });
      return;
    }
    const { conversationId, messageType, id: _id, type: _t, ...fields } = frame;
    conn.sendsInFlight += 1;
    this.sendsInFlight += 1;
    metrics.sendsInFlight.set(this.sendsInFlight);
    const started = performance.now();
    let res: Awaited<ReturnType<UpstreamClient['call']>>;
    try {
      res = await this.deps.upstream.call<Message>({
        service: 'message',
        method: 'POST',
        path: `/v1/conversations/${conversationId}/messages`,
        token: conn.token,
        requestId: newId(),
        body: { ...fields, ...(messageType ? { type: messageType } : {}) },
      });
    } finally {
      conn.sendsInFlight -= 1;
      this.sendsInFlight -= 1;
      metrics.sendsInFlight.set(this.sendsInFlight);
      this.sendMs += (performance.now() - started - this.sendMs) / 8;
    }
    if (!res.ok) {
      this.upstreamError(conn, res.error, frame.id);
      return;
    }
    conn.send({ type: 'ack', replyTo: frame.id, message: res.body as Message });
    // The sender may have joined this conversation a moment ago: make sure its events reach them.
    void this.deps.hub.ensureMember(conn.userId, conversationId);
  }

  /**
   * Replays what each conversation missed since the client's `rev`, from the
   * message service's `changes`, in `rev` order, then `resumed`; more than
   * 1,000 missed changes answer `resync` for that conversation instead.
   */
  private async resume(conn: Connection, frame: Extract<ClientFrame, { type: 'resume' }>): Promise<void> {
    const seen = new Set<string>();
    for (const cursor of frame.cursors) {
      if (seen.has(cursor.conversationId)) continue;
      seen.add(cursor.conversationId);
      if (!(await this.deps.hub.ensureMember(conn.userId, cursor.conversationId))) {
        this.error(conn, 'not_found', `conversation ${cursor.conversationId} not found`);
        continue;
      }
      conn.beginResume(cursor.conversationId);
      const result = await this.fetchChanges(conn, cursor.conversationId, cursor.rev);
      if ('error' in result) {
        conn.endResume(cursor.conversationId, [], cursor.rev);
        this.upstreamError(conn, result.error, frame.id);
        return;
      }
      if (result.resync) {
        conn.abandonResume(cursor.conversationId, result.lastRev);
        conn.send({ type: 'resync', conversationId: cursor.conversationId, rev: result.lastRev });
        continue;
      }
      conn.endResume(
        cursor.conversationId,
        result.changes.map((m) => ({ rev: m.rev, raw: JSON.stringify({ type: frameTypeOfChange(m), message: m }) })),
        cursor.rev,
      );
    }
    conn.send({ type: 'resumed', replyTo: frame.id });
  }

  private async fetchChanges(
    conn: Connection,
    conversationId: string,
    sinceRev: number,
  ): Promise<{ changes: Message[]; resync: boolean; lastRev: number } | { error: UpstreamError }> {
    const changes: Message[] = [];
    let since = sinceRev;
    let total = 0;
    // Bounded: past the resync threshold only the latest rev is still looked for.
    for (let page = 0; page < 100; page++) {
      const res = await this.deps.upstream.call<{ items?: Message[]; nextCursor?: string | null } | Message[]>({
        service: 'message',
        method: 'GET',
        path: `/v1/conversations/${conversationId}/changes?sinceRev=${since}&limit=${CHANGES_PAGE}`,
        token: conn.token,
        requestId: newId(),
      });
      if (!res.ok) return { error: res.error };
      const items = Array.isArray(res.body) ? res.body : (res.body?.items ?? []);
      const fresh = items.filter((m) => m.rev > since).sort((a, b) => a.rev - b.rev);
      total += fresh.length;
      if (total <= LIMITS.resumeMaxChanges) changes.push(...fresh);
      if (fresh.length > 0) since = fresh[fresh.length - 1]!.rev;
      if (fresh.length === 0 || items.length < CHANGES_PAGE) break;
    }
    if (total > LIMITS.resumeMaxChanges) return { changes: [], resync: true, lastRev: since };
    return { changes, resync: false, lastRev: since };
  }

  // ---- errors -------------------------------------------------------------------

  private upstreamError(conn: Connection, e: UpstreamError, replyTo?: string): void {
    this.error(conn, e.code, e.message, { replyTo, details: e.details });
  }

  private error(
    conn: Connection,
    code: string,
    message: string,
    opts: { replyTo?: string; details?: ErrorDetail[]; retryAfterMs?: number } = {},
  ): void {
    const frame: ServerFrame = {
      type: 'error',
      ...(opts.replyTo ? { replyTo: opts.replyTo } : {}),
      code,
      message,
      ...(opts.retryAfterMs !== undefined ? { retryAfterMs: opts.retryAfterMs } : {}),
      error: { code, message, ...(opts.details ? { details: opts.details } : {}) },
    };
    conn.send(frame);
  }
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
