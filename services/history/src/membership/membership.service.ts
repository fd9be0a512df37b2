/**
 * Who may read a conversation's history and search it: the local model,
 * fed by member.* and conversation.* events, confirmed with the owner
 * (`rpc.conversation.membership`) before refusing, so a member added a
 * moment ago is not turned away (API.md: grants take effect at once).
 */
import { type EventData, type MemberFact, MembershipReply, RPC } from '@parley/contracts';
import { type Bus, currentHeaders, type DbOrTx, unavailable } from '@parley/service-kit';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { type MembershipRepository, READER_STATES } from './membership.repository';

const membershipReply = TypeCompiler.Compile(MembershipReply);

export class MembershipService {
  constructor(
    private readonly repo: MembershipRepository,
    private readonly bus: Bus,
    private readonly opts: { rpcTimeoutMs: number; logger: Logger },
  ) {}

  // ---- facts from events -------------------------------------------------

  async conversationCreated(tx: DbOrTx, data: EventData<'conversation.created'>, at: Date): Promise<void> {
    await this.repo.upsertMany(
      tx,
      data.conversation.id,
      data.members.map((m) => ({ userId: m.userId, state: m.state })),
      at,
    );
  }

  async conversationDeleted(tx: DbOrTx, data: EventData<'conversation.deleted'>): Promise<void> {
    await this.repo.deleteConversation(tx, data.conversationId);
  }

  async memberAdded(tx: DbOrTx, data: EventData<'member.added'>, at: Date): Promise<void> {
    await this.apply(tx, data.conversationId, data.member, at);
  }

  async memberUpdated(tx: DbOrTx, data: EventData<'member.updated'>, at: Date): Promise<void> {
    await this.apply(tx, data.conversationId, data.member, at);
  }

  async memberRemoved(tx: DbOrTx, data: EventData<'member.removed'>, at: Date): Promise<void> {
    await this.repo.upsert(tx, data.conversationId, data.userId, 'removed', at);
  }

  async userDeleted(tx: DbOrTx, userId: string): Promise<void> {
    await this.repo.deleteUser(tx, userId);
  }

  private apply(tx: DbOrTx, conversationId: string, m: MemberFact, at: Date) {
    return this.repo.upsert(tx, conversationId, m.userId, m.state, at);
  }

  // ---- queries ---------------------------------------------------------

  /**
   * True when the user is an active (or muted) member. A "no" from the model
   * is confirmed with the owner first; when the owner cannot be asked, a
   * user the model explicitly knows as not reading is refused, and one it
   * has never heard of gets 503 (retry is safe) rather than a wrong 404.
   */
  async canRead(userId: string, conversationId: string): Promise<boolean> {
    const local = await this.repo.stateOf(conversationId, userId);
    if (local && READER_STATES.includes(local)) return true;
    let reply: unknown;
    try {
      reply = await this.bus.request(
        RPC.conversationMembership,
        { conversationId, userId },
        { timeoutMs: this.opts.rpcTimeoutMs, headers: currentHeaders() },
      );
    } catch (err) {
      this.opts.logger.warn({ err }, 'membership confirmation unavailable');
      if (local) return false;
      throw unavailable('membership cannot be confirmed right now, retry later');
    }
    if (!membershipReply.Check(reply)) throw unavailable('malformed membership answer');
    const member = reply.member;
    if (!reply.conversation || !member) return false;
    await this.repo.upsert(this.repo.db, conversationId, userId, member.state, new Date());
    return READER_STATES.includes(member.state);
  }

  readableConversations(userId: string): Promise<string[]> {
    return this.repo.readableConversations(userId);
  }
}
