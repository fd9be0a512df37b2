/**
 * Authorization from the local membership model, with the owner as the
 * authority on a miss and before any refusal (API.md, Consistency):
 * - steady state: one indexed read, no call to another service;
 * - unknown conversation (e.g. created a moment ago): RPC.conversationMembers
 *   fills the whole conversation in the model;
 * - the model says no: RPC.conversationMembership confirms (and the answer is
 *   stored), so grants work at once while revocations, which reach the model
 *   by events within a second, are only ever confirmed.
 * RPC answers are stamped with the time the request started, events with
 * their `occurredAt`: the model keeps whichever fact is newer.
 */
import {
  type ConversationFact,
  type MemberFact,
  type MembershipReply,
  type MembersReply,
  RPC,
} from '@parley/contracts';
import type { Static } from '@sinclair/typebox';
import { ApiError, type DatabaseHandle, type Bus, unavailable } from '@parley/service-kit';
import type { Logger } from 'pino';
import type { MembershipRepository } from './membership.repository';
import { type Access, type Action, decide, type MemberModel } from './membership.policy';

export interface MembershipDeps {
  db: DatabaseHandle;
  bus: Bus;
  repo: MembershipRepository;
  rpcTimeoutMs: number;
  logger: Logger;
}

export function toMemberModel(m: MemberFact): MemberModel {
  return { userId: m.userId, role: m.role, state: m.state };
}

export function conversationInput(c: ConversationFact) {
  return {
    id: c.id,
    type: c.type,
    visibility: c.visibility,
    status: c.status,
    title: c.title,
    version: new Date(c.updatedAt),
  };
}

export function createMembershipService(deps: MembershipDeps) {
  const { db, bus, repo } = deps;
  const log = deps.logger.child({ component: 'membership' });

  function accessOf(conversation: ConversationFact | null, member: MemberFact | null | undefined): Access {
    if (!conversation) return { conversation: null, member: null };
    const { id, type, visibility, status, title } = conversation;
    return { conversation: { id, type, visibility, status, title }, member: member ? toMemberModel(member) : null };
  }

  async function fetchWholeConversation(conversationId: string, userId: string): Promise<Access> {
    const startedAt = new Date();
    const reply = await bus.request<Static<typeof MembersReply>>(
      RPC.conversationMembers,
      { conversationId },
      { timeoutMs: deps.rpcTimeoutMs },
    );
    const conversation = reply?.conversation ?? null;
    if (!conversation) return accessOf(null, null);
    await db.db.transaction(async (tx) => {
      await repo.upsertConversation(tx, conversationInput(conversation));
      await repo.replaceMembers(tx, conversationId, reply.members.map(toMemberModel), startedAt);
    });
    return accessOf(
      conversation,
      reply.members.find((m) => m.userId === userId),
    );
  }

  async function fetchMembership(conversationId: string, userId: string): Promise<Access> {
    const startedAt = new Date();
    const reply = await bus.request<MembershipReply>(
      RPC.conversationMembership,
      { conversationId, userId },
      { timeoutMs: deps.rpcTimeoutMs },
    );
    const conversation = reply?.conversation ?? null;
    // No such conversation at the owner: the model learns of deletions by event.
    if (!conversation) return accessOf(null, null);
    await db.db.transaction(async (tx) => {
      await repo.upsertConversation(tx, conversationInput(conversation));
      await repo.upsertMember(
        tx,
        conversationId,
        reply.member ? toMemberModel(reply.member) : { userId, role: 'member', state: 'removed' },
        startedAt,
      );
    });
    return accessOf(conversation, reply.member);
  }

  // Concurrent misses of one conversation (a burst of sends right after it
  // was created) share one request to the owner.
  const inFlight = new Map<string, Promise<Access>>();
  function singleFlight(key: string, fn: () => Promise<Access>): Promise<Access> {
    let p = inFlight.get(key);
    if (!p) {
      p = fn().finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  }

  /** Asks the owner for the truth, stores it in the model and returns it. */
  async function refresh(conversationId: string, userId: string, known: boolean): Promise<Access> {
    try {
      if (known)
        return await singleFlight(`${conversationId}:${userId}`, () => fetchMembership(conversationId, userId));
      const whole = await singleFlight(conversationId, () => fetchWholeConversation(conversationId, userId));
      if (!whole.conversation || whole.member?.userId === userId) return whole;
      // Shared with another caller's miss: read this caller's row from the model it filled.
      return await repo.findAccess(db.db, conversationId, userId);
    } catch (err) {
      log.warn({ err, conversationId }, 'conversation service did not confirm membership');
      throw unavailable('could not confirm membership with the conversation service, retry later', err);
    }
  }

  return {
    /**
     * Allows the action or throws the documented error. Returns the access
     * the decision was made on (role, status, conversation type).
     */
    async authorize(conversationId: string, userId: string, action: Action): Promise<Access> {
      const local = await repo.findAccess(db.db, conversationId, userId);
      if (!decide(local, action)) return local;
      const fresh = await refresh(conversationId, userId, local.conversation !== null);
      const refusal = decide(fresh, action);
      if (refusal) throw new ApiError(refusal.code, refusal.message);
      return fresh;
    },

    /** Like authorize, but answers the decision instead of throwing. */
    async check(conversationId: string, userId: string, action: Action): Promise<Access & { allowed: boolean }> {
      const local = await repo.findAccess(db.db, conversationId, userId);
      if (!decide(local, action)) return { ...local, allowed: true };
      const fresh = await refresh(conversationId, userId, local.conversation !== null);
      return { ...fresh, allowed: decide(fresh, action) === null };
    },
  };
}

export type MembershipService = ReturnType<typeof createMembershipService>;
