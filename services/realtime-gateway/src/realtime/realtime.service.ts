/**
 * The realtime hub of one gateway: who is connected here, which
 * conversations they belong to, and the NATS interest that follows from it.
 *
 * Interest-based routing: the gateway subscribes (core NATS) to a
 * conversation's subjects only while at least one of its connected users is a
 * member (reference-counted by user), and to a user's own subjects while that
 * user has a connection here. Memberships come from the conversation service
 * at connect (RPC) and are kept current from `member.*` events, so a user
 * added mid-connection receives at once and a removed one stops at once.
 * Every event is validated and serialized once per gateway, then written to
 * each interested socket.
 */
import {
  type AnyEventEnvelope,
  filterOf,
  LIVE,
  type Message,
  MembershipReply,
  MembershipsReply,
  parseEvent,
  RPC,
  type ServerFrame,
  WS_LIMITS,
} from '@parley/contracts';
import type { Bus, Infra, Subscription } from '@parley/service-kit';
import { newId } from '@parley/service-kit';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config';
import { CLOSE, type Connection } from './connection';
import type { PresenceRepository } from './presence.repository';
import type { RealtimeMetrics } from './realtime.metrics';
import { RevOrderBuffer } from './rev-order';
import type { UpstreamClient } from './upstream.client';

const membershipsReply = TypeCompiler.Compile(MembershipsReply);
const membershipReply = TypeCompiler.Compile(MembershipReply);
const TypingSignal = Type.Object({
  conversationId: Type.String({ format: 'uuid' }),
  userId: Type.String({ format: 'uuid' }),
  state: Type.Union([Type.Literal('start'), Type.Literal('stop')]),
});
const typingSignal = TypeCompiler.Compile(TypingSignal);
const PresenceSignal = Type.Object({
  userId: Type.String({ format: 'uuid' }),
  status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
  conversationIds: Type.Array(Type.String({ format: 'uuid' }), { maxItems: 100_000 }),
});
const presenceSignal = TypeCompiler.Compile(PresenceSignal);

/** How long an event ahead of a gap waits before the gap is fetched. */
const GAP_WAIT_MS = 250;
const ACTIVE_STATES = new Set(['active', 'muted']);

interface UserEntry {
  conns: Set<Connection>;
  conversations: Set<string>;
  subs: Subscription[];
  /** The user's conversations, being asked for by their first connection here. */
  loading?: Promise<void>;
}

interface ConversationEntry {
  users: Set<string>;
  subs: Subscription[];
  order: RevOrderBuffer<AnyEventEnvelope>;
  gapTimer: ReturnType<typeof setTimeout> | null;
}

export interface RealtimeDeps {
  config: GatewayConfig;
  infra: Infra;
  logger: Logger;
  metrics: RealtimeMetrics;
  presence: PresenceRepository;
  upstream: UpstreamClient;
}

export class RealtimeHub {
  private readonly users = new Map<string, UserEntry>();
  private readonly conversations = new Map<string, ConversationEntry>();
  private readonly globalSubs: Subscription[] = [];
  private readonly bus: Bus;
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly deps: RealtimeDeps) {
    this.bus = deps.infra.bus;
    this.log = deps.logger;
  }

  start(): void {
    this.globalSubs.push(
      this.bus.subscribe(filterOf('member.added'), (m) => this.onMemberAdded(m.data)),
      this.bus.subscribe(filterOf('conversation.created'), (m) => this.onConversationCreated(m.data)),
      this.bus.subscribe(LIVE.presenceAll, (m) => this.onPresenceSignal(m.data)),
      // Revocations for every user, routed here by the subject's user id: they
      // are rare (logout, refresh-token reuse, account deletion), so hearing all
      // of them costs a gateway next to nothing, and it saves two
      // subscriptions per connected user (and the SUB/UNSUB traffic of each).
      this.bus.subscribe(filterOf('session.revoked'), (m) => this.onUserEvent(userOfSubject(m.subject), m.data)),
      this.bus.subscribe(filterOf('user.deleted'), (m) => this.onUserEvent(userOfSubject(m.subject), m.data)),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.globalSubs.splice(0)) s.unsubscribe();
    for (const [, c] of this.conversations) {
      for (const s of c.subs) s.unsubscribe();
      if (c.gapTimer) clearTimeout(c.gapTimer);
    }
    this.conversations.clear();
    for (const [, u] of this.users) for (const s of u.subs) s.unsubscribe();
    this.users.clear();
  }

  get connectionCount(): number {
    let n = 0;
    for (const u of this.users.values()) n += u.conns.size;
    return n;
  }

  allConnections(): Connection[] {
    return [...this.users.values()].flatMap((u) => [...u.conns]);
  }

  isMember(userId: string, conversationId: string): boolean {
    return this.users.get(userId)?.conversations.has(conversationId) ?? false;
  }

  /** Whether another connection of this user here has its presence registered (so the user is online). */
  hasOtherOnline(userId: string, except: Connection): boolean {
    for (const c of this.users.get(userId)?.conns ?? []) if (c !== except && c.presenceRegistered) return true;
    return false;
  }

  conversationsOf(userId: string): string[] {
    return [...(this.users.get(userId)?.conversations ?? [])];
  }

  /**
   * Registers an authenticated connection: per-user subscriptions, then the
   * user's memberships from the conversation service. Throws when the
   * conversation service cannot answer (the caller closes the socket).
   */
  async attach(conn: Connection): Promise<void> {
    const userId = conn.userId;
    let entry = this.users.get(userId);
    const first = !entry;
    if (!entry) {
      entry = { conns: new Set(), conversations: new Set(), subs: this.subscribeUser(userId) };
      this.users.set(userId, entry);
    }
    entry.conns.add(conn);
    this.deps.metrics.connections.inc();
    if (first) {
      const current = entry;
      entry.loading = (async () => {
        const reply = await this.bus.request(RPC.conversationMemberships, { userId }, { timeoutMs: 2000 });
        if (!membershipsReply.Check(reply)) throw new Error('malformed memberships reply');
        for (const id of reply.conversationIds) this.addInterest(userId, id);
      })().finally(() => {
        current.loading = undefined;
      });
    }
    // Another connection of the user that arrives while the first one asks
    // waits for the same answer: a connection is ready only once the events
    // of the user's conversations reach this gateway.
    try {
      await entry.loading;
    } catch (err) {
      this.detach(conn);
      throw err;
    }
  }

  detach(conn: Connection): void {
    const entry = this.users.get(conn.userId);
    if (!entry?.conns.delete(conn)) return;
    this.deps.metrics.connections.dec();
    if (entry.conns.size > 0) return;
    for (const s of entry.subs) s.unsubscribe();
    for (const id of entry.conversations) this.releaseConversation(conn.userId, id);
    this.users.delete(conn.userId);
  }

  /**
   * Which of `others` share a conversation with `userId` (API.md: presence goes
   * to members of conversations shared with that user). The caller's own
   * conversations are known here; another user's come from this gateway when
   * they are connected to it, else from the conversation service. Throws when
   * the owner cannot answer.
   */
  async sharingConversationWith(userId: string, others: string[]): Promise<Set<string>> {
    const mine = this.users.get(userId)?.conversations ?? new Set<string>();
    const shared = new Set<string>();
    await Promise.all(
      others.map(async (other) => {
        if (other === userId) {
          shared.add(other);
          return;
        }
        if (mine.size === 0) return;
        const local = this.users.get(other)?.conversations;
        let theirs: Iterable<string>;
        if (local) theirs = local;
        else {
          const reply = await this.bus.request(RPC.conversationMemberships, { userId: other }, { timeoutMs: 2000 });
          if (!membershipsReply.Check(reply)) throw new Error('malformed memberships reply');
          theirs = reply.conversationIds;
        }
        for (const id of theirs) {
          if (mine.has(id)) {
            shared.add(other);
            return;
          }
        }
      }),
    );
    return shared;
  }

  /** Makes sure a user's membership is known here, asking the owner when the model has none (API.md Consistency). */
  async ensureMember(userId: string, conversationId: string): Promise<boolean> {
    if (this.isMember(userId, conversationId)) return true;
    try {
      const reply = await this.bus.request(RPC.conversationMembership, { conversationId, userId }, { timeoutMs: 2000 });
      if (!membershipReply.Check(reply)) return false;
      const state = reply.member?.state;
      if (reply.conversation && state && ACTIVE_STATES.has(state)) {
        this.addInterest(userId, conversationId);
        return true;
      }
    } catch (err) {
      this.log.warn({ err, conversationId }, 'membership check failed');
    }
    return false;
  }

  // ---- interest -----------------------------------------------------------

  /**
   * A connected user's own subjects. Notifications (one per member per
   * message, the largest stream there is) stay interest-based: only the
   * gateways holding the user receive them. Revocations come through the
   * gateway-wide subscriptions of `start`.
   */
  private subscribeUser(userId: string): Subscription[] {
    return [this.bus.subscribe(`notification.${userId}.*`, (m) => this.onUserEvent(userId, m.data))];
  }

  /** Adds a local user's interest in a conversation; returns false if it was there. */
  private addInterest(userId: string, conversationId: string): boolean {
    const user = this.users.get(userId);
    if (!user || user.conversations.has(conversationId)) return false;
    user.conversations.add(conversationId);
    let conv = this.conversations.get(conversationId);
    if (!conv) {
      conv = {
        users: new Set(),
        subs: this.subscribeConversation(conversationId),
        order: new RevOrderBuffer(),
        gapTimer: null,
      };
      this.conversations.set(conversationId, conv);
      this.deps.metrics.heldConversations.set(this.conversations.size);
    }
    conv.users.add(userId);
    return true;
  }

  private dropInterest(userId: string, conversationId: string): void {
    const user = this.users.get(userId);
    if (!user?.conversations.delete(conversationId)) return;
    for (const c of user.conns) c.forgetConversation(conversationId);
    this.releaseConversation(userId, conversationId);
  }

  private releaseConversation(userId: string, conversationId: string): void {
    const conv = this.conversations.get(conversationId);
    if (!conv) return;
    conv.users.delete(userId);
    if (conv.users.size > 0) return;
    for (const s of conv.subs) s.unsubscribe();
    if (conv.gapTimer) clearTimeout(conv.gapTimer);
    this.conversations.delete(conversationId);
    this.deps.metrics.heldConversations.set(this.conversations.size);
  }

  /**
   * Two subscriptions per held conversation: every event keyed by it
   * (`*.<id>.*`: `message.*`, `receipt.*`, `conversation.*`, `member.*`; a
   * `member.added` is acted on by the global subscription and ignored here),
   * and its typing signals.
   */
  private subscribeConversation(id: string): Subscription[] {
    return [
      this.bus.subscribe(`*.${id}.*`, (m) => this.onConversationEvent(id, m.subject, m.data)),
      this.bus.subscribe(LIVE.typing(id), (m) => this.onTyping(id, m.data)),
    ];
  }

  // ---- fan-out ------------------------------------------------------------

  /** Writes one serialized frame to every connection of the conversation's local members. */
  private fanOut(conversationId: string, frame: ServerFrame, opts: { except?: string } = {}): void {
    const conv = this.conversations.get(conversationId);
    if (!conv) return;
    const raw = JSON.stringify(frame);
    for (const userId of conv.users) {
      if (userId === opts.except) continue;
      for (const c of this.users.get(userId)?.conns ?? []) if (c.isOpen) c.sendRaw(raw);
    }
  }

  private toUser(userId: string, frame: ServerFrame): void {
    const raw = JSON.stringify(frame);
    for (const c of this.users.get(userId)?.conns ?? []) if (c.isOpen) c.sendRaw(raw);
  }

  private parse(data: unknown): AnyEventEnvelope | null {
    try {
      return parseEvent(data);
    } catch (err) {
      this.log.warn({ err }, 'dropped an invalid event');
      return null;
    }
  }

  private observeLatency(event: AnyEventEnvelope): void {
    const ms = Date.now() - Date.parse(event.occurredAt);
    if (Number.isFinite(ms) && ms >= 0) this.deps.metrics.deliveryLatency.observe(ms / 1000);
  }

  private onConversationEvent(conversationId: string, subject: string, data: unknown): void {
    // Acted on by the global `member.*.added` subscription: not parsed twice.
    if (subject.endsWith('.added')) return;
    const event = this.parse(data);
    if (!event) return;
    switch (event.type) {
      case 'message.created':
      case 'message.updated':
      case 'message.deleted': {
        const conv = this.conversations.get(conversationId);
        if (!conv) return;
        this.release(conversationId, conv.order.push(event.data.message.rev, event));
        if (conv.order.holding > 0 && !conv.gapTimer) {
          conv.gapTimer = setTimeout(() => void this.fillGap(conversationId), GAP_WAIT_MS);
        }
        return;
      }
      case 'receipt.read':
      case 'receipt.delivered':
        this.fanOut(conversationId, {
          type: 'receipt',
          conversationId,
          userId: event.data.userId,
          kind: event.type === 'receipt.read' ? 'read' : 'delivered',
          seq: event.data.seq,
        });
        this.observeLatency(event);
        return;
      case 'conversation.updated':
        this.fanOut(conversationId, { type: 'conversation.updated', conversation: event.data.conversation });
        this.observeLatency(event);
        return;
      case 'conversation.deleted':
        for (const userId of [...(this.conversations.get(conversationId)?.users ?? [])]) {
          this.toUser(userId, { type: 'member.removed', conversationId, userId });
          this.dropInterest(userId, conversationId);
        }
        return;
      case 'member.removed':
        this.removeMember(conversationId, event.data.userId);
        return;
      case 'member.updated': {
        const { member } = event.data;
        if (!ACTIVE_STATES.has(member.state)) this.removeMember(conversationId, member.userId);
        else if (this.users.has(member.userId) && this.addInterest(member.userId, conversationId)) {
          this.fanOut(conversationId, { type: 'member.added', conversationId, userId: member.userId });
        }
        return;
      }
      default:
        return;
    }
  }

  private removeMember(conversationId: string, userId: string): void {
    // Everyone here still in it hears about it, the removed user last.
    this.fanOut(conversationId, { type: 'member.removed', conversationId, userId });
    this.dropInterest(userId, conversationId);
  }

  /** Sends message events released by the order buffer, each serialized once. */
  private release(conversationId: string, events: { rev: number; item: AnyEventEnvelope }[]): void {
    const conv = this.conversations.get(conversationId);
    if (!conv) return;
    for (const { rev, item } of events) {
      const raw = Buffer.from(
        JSON.stringify({ type: item.type, message: (item.data as { message: Message }).message }),
      );
      for (const userId of conv.users) {
        for (const c of this.users.get(userId)?.conns ?? []) if (c.isOpen) c.deliverMessage(conversationId, rev, raw);
      }
      this.observeLatency(item);
    }
  }

  /** An event waited ahead of a gap: fetch the gap with a member's token, else give up waiting. */
  private async fillGap(conversationId: string): Promise<void> {
    const conv = this.conversations.get(conversationId);
    if (!conv) return;
    conv.gapTimer = null;
    const since = conv.order.position;
    const holder = [...conv.users].flatMap((u) => [...(this.users.get(u)?.conns ?? [])]).find((c) => c.isOpen);
    if (since !== null && holder) {
      const res = await this.deps.upstream.call<{ items?: Message[] } | Message[]>({
        service: 'message',
        method: 'GET',
        path: `/v1/conversations/${conversationId}/changes?sinceRev=${since}&limit=200`,
        token: holder.token,
        requestId: newId(),
      });
      if (res.ok) {
        const items = Array.isArray(res.body) ? res.body : (res.body?.items ?? []);
        const current = this.conversations.get(conversationId);
        if (!current) return;
        this.release(conversationId, current.order.fill(items.map((m) => ({ rev: m.rev, item: envelopeOfChange(m) }))));
      }
    }
    const current = this.conversations.get(conversationId);
    if (current && current.order.holding > 0) this.release(conversationId, current.order.flush());
  }

  private onMemberAdded(data: unknown): void {
    const event = this.parse(data);
    if (event?.type !== 'member.added') return;
    const { conversationId, member } = event.data;
    if (this.users.has(member.userId) && ACTIVE_STATES.has(member.state))
      this.addInterest(member.userId, conversationId);
    this.fanOut(conversationId, { type: 'member.added', conversationId, userId: member.userId });
  }

  private onConversationCreated(data: unknown): void {
    const event = this.parse(data);
    if (event?.type !== 'conversation.created') return;
    const conversationId = event.data.conversation.id;
    for (const m of event.data.members) {
      if (this.users.has(m.userId) && ACTIVE_STATES.has(m.state) && this.addInterest(m.userId, conversationId)) {
        this.toUser(m.userId, { type: 'member.added', conversationId, userId: m.userId });
      }
    }
  }

  private onUserEvent(userId: string, data: unknown): void {
    // Gateway-wide revocations: nothing to do (nor to parse) for a user not connected here.
    const entry = this.users.get(userId);
    if (!entry) return;
    const event = this.parse(data);
    if (!event) return;
    switch (event.type) {
      case 'notification.created':
        this.toUser(userId, { type: 'notification.created', notification: event.data.notification });
        this.observeLatency(event);
        return;
      case 'session.revoked':
        for (const c of [...entry.conns])
          if (c.sessionId === event.data.sessionId) c.close(CLOSE.unauthorized, 'session ended');
        return;
      case 'user.deleted':
        for (const c of [...entry.conns]) c.close(CLOSE.unauthorized, 'account deleted');
        return;
      default:
        return;
    }
  }

  // ---- typing and presence -------------------------------------------------

  /**
   * Relays a typing signal to the other members online. `start` goes out at
   * most once per 2 s per user and conversation (cluster-wide); `stop` always
   * goes out, so an indicator never sticks, and re-arms `start`. The
   * per-connection frame rate limit bounds both.
   */
  async typing(conn: Connection, conversationId: string, state: 'start' | 'stop'): Promise<void> {
    const key = `typing:${conn.userId}:${conversationId}`;
    try {
      if (state === 'start') {
        const first = await this.deps.infra.kv.set(key, '1', { ttlMs: WS_LIMITS.typingThrottleMs, nx: true });
        if (!first) return;
      } else {
        await this.deps.infra.kv.del(key);
      }
    } catch {
      // Key-value store away: relay unthrottled rather than lose typing (the frame rate limit still holds).
    }
    this.bus.publish(LIVE.typing(conversationId), { conversationId, userId: conn.userId, state });
  }

  private onTyping(conversationId: string, data: unknown): void {
    if (!typingSignal.Check(data) || data.conversationId !== conversationId) return;
    this.fanOut(
      conversationId,
      { type: 'typing', conversationId, userId: data.userId, state: data.state },
      { except: data.userId },
    );
  }

  /** Publishes a presence change to every gateway, with the conversations it concerns. */
  publishPresence(userId: string, status: 'online' | 'offline', lastSeenAt: string | null): void {
    this.publishPresenceFor(userId, status, lastSeenAt, this.conversationsOf(userId));
  }

  publishPresenceFor(
    userId: string,
    status: 'online' | 'offline',
    lastSeenAt: string | null,
    conversationIds: string[],
  ): void {
    if (this.stopped || conversationIds.length === 0) return;
    this.bus.publish(LIVE.presence(userId), { userId, status, lastSeenAt, conversationIds });
  }

  private onPresenceSignal(data: unknown): void {
    if (!presenceSignal.Check(data)) return;
    const raw = Buffer.from(
      JSON.stringify({
        type: 'presence',
        userId: data.userId,
        status: data.status,
        lastSeenAt: data.lastSeenAt,
      } satisfies ServerFrame),
    );
    const recipients = new Set<string>();
    for (const id of data.conversationIds) {
      for (const u of this.conversations.get(id)?.users ?? []) if (u !== data.userId) recipients.add(u);
    }
    for (const u of recipients) for (const c of this.users.get(u)?.conns ?? []) if (c.isOpen) c.sendRaw(raw);
  }
}

/** The `<key>` of a user-keyed event subject (`session.<userId>.revoked`). */
function userOfSubject(subject: string): string {
  return subject.split('.')[1] ?? '';
}

/** A change from `GET /changes` as the event it stands for (its latest state). */
export function envelopeOfChange(message: Message): AnyEventEnvelope {
  const type = message.deletedAt ? 'message.deleted' : message.editedAt ? 'message.updated' : 'message.created';
  const base = {
    id: newId(),
    version: 1,
    occurredAt: message.deletedAt ?? message.editedAt ?? message.createdAt,
    producer: 'message',
  };
  if (type === 'message.deleted') return { ...base, type, data: { message, deletedBy: null } };
  if (type === 'message.updated') {
    return { ...base, type, data: { message, previousContent: '', editorId: message.senderId ?? message.id } };
  }
  return { ...base, type, data: { message } };
}

/** The frame type a change from `GET /changes` is replayed as. */
export function frameTypeOfChange(message: Message): 'message.created' | 'message.updated' | 'message.deleted' {
  return message.deletedAt ? 'message.deleted' : message.editedAt ? 'message.updated' : 'message.created';
}
