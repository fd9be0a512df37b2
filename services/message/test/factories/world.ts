/**
 * Stand-in for the conversation and auth services: the facts they own, kept
 * in memory, answered on their RPC subjects, and (when asked) published as
 * the events they would publish. Tests decide per change whether the event
 * goes out, so both the event-fed model and the RPC confirmation are tested.
 */
import type { ConversationFact, EventData, EventType, MemberFact, PublicUser } from '@parley/contracts';
import { newId } from '@parley/service-kit';

type Role = MemberFact['role'];
type State = MemberFact['state'];

export type Publish = <T extends EventType>(type: T, data: EventData<T>) => Promise<unknown>;

export interface MakeConversationInput {
  type?: 'direct' | 'group';
  createdBy: string;
  memberIds: string[];
  title?: string | null;
  visibility?: 'private' | 'public';
  /** Publish `conversation.created` (default true). */
  publish?: boolean;
}

export class World {
  readonly users = new Map<string, PublicUser>();
  readonly conversations = new Map<string, ConversationFact>();
  readonly members = new Map<string, Map<string, MemberFact>>();
  private tick = 0;

  constructor(private readonly publish: Publish) {}

  /** Strictly increasing timestamps, so each fact is newer than the last. */
  now(): string {
    const t = Math.max(Date.now(), this.tick + 1);
    this.tick = t;
    return new Date(t).toISOString();
  }

  addUser(name: string): PublicUser {
    const user: PublicUser = { id: newId(), name, avatarUrl: null, statusText: null, createdAt: this.now() };
    this.users.set(user.id, user);
    return user;
  }

  conversation(id: string): ConversationFact {
    const c = this.conversations.get(id);
    if (!c) throw new Error(`no conversation ${id}`);
    return c;
  }

  memberList(id: string): MemberFact[] {
    return [...(this.members.get(id)?.values() ?? [])];
  }

  private touch(id: string, patch: Partial<ConversationFact> = {}): ConversationFact {
    const current = this.conversation(id);
    const list = this.memberList(id).filter((m) => m.state !== 'banned');
    const next = { ...current, ...patch, memberCount: list.length, updatedAt: this.now() };
    this.conversations.set(id, next);
    return next;
  }

  async createConversation(input: MakeConversationInput): Promise<ConversationFact> {
    const at = this.now();
    const type = input.type ?? 'group';
    const conv: ConversationFact = {
      id: newId(),
      type,
      title: input.title ?? (type === 'group' ? 'Test group' : null),
      visibility: input.visibility ?? 'private',
      status: 'open',
      maxMembers: 50,
      memberCount: 0,
      metadata: {},
      createdBy: input.createdBy,
      createdAt: at,
      updatedAt: at,
    };
    const ids = [input.createdBy, ...input.memberIds.filter((id) => id !== input.createdBy)];
    const members = new Map<string, MemberFact>();
    for (const userId of ids) {
      members.set(userId, {
        userId,
        role: userId === input.createdBy ? 'owner' : 'member',
        state: 'active',
        notifications: 'all',
        joinedAt: at,
      });
    }
    this.conversations.set(conv.id, { ...conv, memberCount: ids.length });
    this.members.set(conv.id, members);
    if (input.publish !== false) {
      await this.publish('conversation.created', {
        conversation: this.conversation(conv.id),
        members: [...members.values()],
        actorId: input.createdBy,
      });
    }
    return this.conversation(conv.id);
  }

  async addMember(
    id: string,
    userId: string,
    actorId: string,
    opts: { publish?: boolean; via?: 'added' | 'joined' } = {},
  ): Promise<void> {
    const member: MemberFact = { userId, role: 'member', state: 'active', notifications: 'all', joinedAt: this.now() };
    this.members.get(id)!.set(userId, member);
    const conversation = this.touch(id);
    if (opts.publish !== false) {
      await this.publish('member.added', {
        conversationId: id,
        conversation,
        member,
        actorId,
        via: opts.via ?? 'added',
      });
    }
  }

  async updateMember(
    id: string,
    userId: string,
    change: { role?: Role; state?: State },
    actorId: string,
    opts: { publish?: boolean } = {},
  ): Promise<void> {
    const previous = this.members.get(id)!.get(userId)!;
    const member = { ...previous, ...change };
    this.members.get(id)!.set(userId, member);
    this.touch(id);
    if (opts.publish !== false) {
      await this.publish('member.updated', {
        conversationId: id,
        member,
        previous: { role: previous.role, state: previous.state, notifications: previous.notifications },
        actorId,
      });
    }
  }

  async removeMember(id: string, userId: string, actorId: string, opts: { publish?: boolean } = {}): Promise<void> {
    this.members.get(id)!.delete(userId);
    this.touch(id);
    if (opts.publish !== false) {
      await this.publish('member.removed', {
        conversationId: id,
        userId,
        actorId,
        reason: actorId === userId ? 'left' : 'removed',
      });
    }
  }

  async setStatus(
    id: string,
    status: 'open' | 'closed' | 'archived',
    actorId: string,
    opts: { publish?: boolean } = {},
  ): Promise<void> {
    const before = this.conversation(id);
    const conversation = this.touch(id, { status });
    if (opts.publish !== false) {
      const change = status === 'open' ? 'reopened' : status;
      await this.publish('conversation.updated', {
        conversation,
        change,
        changedFields: ['status'],
        previous: { title: before.title, status: before.status },
        actorId,
      });
    }
  }

  async rename(id: string, title: string, actorId: string): Promise<void> {
    const before = this.conversation(id);
    const conversation = this.touch(id, { title });
    await this.publish('conversation.updated', {
      conversation,
      change: 'updated',
      changedFields: ['title'],
      previous: { title: before.title, status: before.status },
      actorId,
    });
  }

  // ---- RPC answers, as the owners give them -------------------------------
  membership(req: { conversationId: string; userId: string }) {
    const conversation = this.conversations.get(req.conversationId) ?? null;
    const member = this.members.get(req.conversationId)?.get(req.userId) ?? null;
    return { conversation, member: conversation ? member : null };
  }

  membersOf(req: { conversationId: string }) {
    const conversation = this.conversations.get(req.conversationId) ?? null;
    return { conversation, members: conversation ? this.memberList(req.conversationId) : [] };
  }

  usersByIds(req: { ids: string[] }) {
    return { users: req.ids.map((id) => this.users.get(id)).filter((u): u is PublicUser => u !== undefined) };
  }
}
