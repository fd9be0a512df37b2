/**
 * The local read model of conversations, members and users: applies the
 * owners' facts, and asks the owner (request/reply) when the model cannot
 * answer: a conversation with no complete member list, or a sender or named
 * user the model has not heard of yet (API.md Consistency: read models may
 * lag, the API may not).
 */
import { type EventData, MembersReply, type MemberFact, RPC, UsersReply } from '@parley/contracts';
import { type Bus, currentHeaders, type DbOrTx } from '@parley/service-kit';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import type { MemberView } from '../notifications/notification.rules';
import type { ConversationView, MemberFactInput, ReadModelRepository } from './read-model.repository';

const membersReply = TypeCompiler.Compile(MembersReply);
const usersReply = TypeCompiler.Compile(UsersReply);

export class MalformedReplyError extends Error {
  constructor(subject: string) {
    super(`malformed reply from ${subject}`);
    this.name = 'MalformedReplyError';
  }
}

export interface ConversationMembers {
  conversation: ConversationView;
  members: MemberView[];
}

export interface MembersNeed {
  /** Must be an active or muted member (the sender of a message): if not, the model lags. */
  activeMember?: string | null;
  /** Must be present in any state (mentioned or named users). */
  known?: readonly string[];
}

const toInput = (m: MemberFact): MemberFactInput => ({ userId: m.userId, state: m.state, preference: m.notifications });

export class ReadModelService {
  constructor(
    private readonly repo: ReadModelRepository,
    private readonly bus: Bus,
    private readonly opts: { rpcTimeoutMs: number; logger: Logger },
  ) {}

  // ---- facts from events -------------------------------------------------

  async conversationCreated(tx: DbOrTx, data: EventData<'conversation.created'>, at: Date): Promise<void> {
    const c = data.conversation;
    await this.repo.upsertConversation(tx, { id: c.id, type: c.type, title: c.title }, at, true);
    await this.repo.upsertMembers(tx, c.id, data.members.map(toInput), at);
  }

  async conversationUpdated(tx: DbOrTx, data: EventData<'conversation.updated'>, at: Date): Promise<void> {
    const c = data.conversation;
    await this.repo.upsertConversation(tx, { id: c.id, type: c.type, title: c.title }, at, false);
  }

  async conversationDeleted(tx: DbOrTx, data: EventData<'conversation.deleted'>): Promise<void> {
    await this.repo.deleteConversation(tx, data.conversationId);
  }

  async memberAdded(tx: DbOrTx, data: EventData<'member.added'>, at: Date): Promise<void> {
    const c = data.conversation;
    await this.repo.upsertConversation(tx, { id: c.id, type: c.type, title: c.title }, at, false);
    await this.repo.upsertMember(tx, data.conversationId, toInput(data.member), at);
  }

  async memberUpdated(tx: DbOrTx, data: EventData<'member.updated'>, at: Date): Promise<void> {
    await this.repo.upsertMember(tx, data.conversationId, toInput(data.member), at);
  }

  async memberRemoved(tx: DbOrTx, data: EventData<'member.removed'>, at: Date): Promise<void> {
    await this.repo.upsertMember(tx, data.conversationId, { userId: data.userId, state: 'removed' }, at);
  }

  async userChanged(tx: DbOrTx, user: { id: string; name: string }, at: Date): Promise<void> {
    await this.repo.upsertUser(tx, user, at);
  }

  async userDeleted(tx: DbOrTx, userId: string, at: Date): Promise<void> {
    await this.repo.deleteMemberships(tx, userId);
    await this.repo.tombstoneUser(tx, userId, at);
  }

  // ---- queries ---------------------------------------------------------

  /**
   * The conversation and its members, from the model when it can answer,
   * else refreshed from the conversation service. Null when the owner says
   * the conversation does not exist (deleted). Throws when the owner cannot
   * be reached, so the event is retried rather than notifying the wrong set.
   */
  async membersOf(tx: DbOrTx, conversationId: string, need: MembersNeed = {}): Promise<ConversationMembers | null> {
    const conversation = await this.repo.getConversation(tx, conversationId);
    if (conversation?.membersComplete) {
      const members = await this.repo.listMembers(tx, conversationId);
      if (this.satisfies(members, need)) return { conversation, members };
    }
    return this.refreshMembers(tx, conversationId);
  }

  private satisfies(members: MemberView[], need: MembersNeed): boolean {
    const byId = new Map(members.map((m) => [m.userId, m]));
    if (need.activeMember) {
      const sender = byId.get(need.activeMember);
      if (!sender || (sender.state !== 'active' && sender.state !== 'muted')) return false;
    }
    return (need.known ?? []).every((id) => byId.has(id));
  }

  private async refreshMembers(tx: DbOrTx, conversationId: string): Promise<ConversationMembers | null> {
    const asked = new Date();
    const reply = await this.bus.request(
      RPC.conversationMembers,
      { conversationId },
      { timeoutMs: this.opts.rpcTimeoutMs, headers: currentHeaders() },
    );
    if (!membersReply.Check(reply)) throw new MalformedReplyError(RPC.conversationMembers);
    if (!reply.conversation) {
      await this.repo.deleteConversation(tx, conversationId);
      return null;
    }
    const c = reply.conversation;
    await this.repo.upsertConversation(tx, { id: c.id, type: c.type, title: c.title }, asked, true);
    await this.repo.replaceMembers(tx, conversationId, reply.members.map(toInput), asked);
    const conversation = await this.repo.getConversation(tx, conversationId);
    if (!conversation) return null;
    return { conversation, members: await this.repo.listMembers(tx, conversationId) };
  }

  /**
   * Display names for titles. Unknown users are asked of the auth service;
   * a name is a nicety, so when it cannot answer the title says "Someone"
   * rather than holding the notification back.
   */
  async namesOf(tx: DbOrTx, ids: readonly string[]): Promise<Map<string, string | null>> {
    const unique = [...new Set(ids)];
    const names = await this.repo.userNames(tx, unique);
    const missing = unique.filter((id) => !names.has(id));
    if (missing.length === 0) return names;
    try {
      const reply = await this.bus.request(
        RPC.authUsers,
        { ids: missing },
        { timeoutMs: this.opts.rpcTimeoutMs, headers: currentHeaders() },
      );
      if (!usersReply.Check(reply)) throw new MalformedReplyError(RPC.authUsers);
      const asked = new Date();
      for (const u of reply.users) {
        await this.repo.upsertUser(tx, { id: u.id, name: u.name }, asked);
        names.set(u.id, u.name);
      }
    } catch (err) {
      this.opts.logger.warn({ err, users: missing.length }, 'user names unavailable; titles use a placeholder');
    }
    return names;
  }
}
