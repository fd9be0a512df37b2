/**
 * The behaviour of conversations and members: API.md "Conversations", the
 * rules of `conversation.policy.ts`, one event per change through the outbox.
 * No Fastify, no SQL: the repository stores, the policy decides.
 *
 * Concurrency: every change to a conversation or its members locks the
 * conversation row first (SELECT ... FOR UPDATE), so member limits, the
 * "at least one owner" rule and lifecycle transitions hold under parallel
 * requests. Direct conversations are unique per unordered pair through a
 * unique `direct_key` (INSERT ... ON CONFLICT DO NOTHING, then read).
 */
import type { Conversation, Member, MemberRole, MemberState } from '@parley/contracts';
import { LIMITS } from '@parley/contracts';
import {
  type Db,
  type Emit,
  type Outbox,
  type Tx,
  conflict,
  forbidden,
  newId,
  notFound,
  validationFailed,
} from '@parley/service-kit';
import type { Logger } from 'pino';
import type { UserDirectory } from '../users/user.service';
import { decodeCursor, encodeCursor } from './conversation.cursor';
import {
  type ConversationForUser,
  type ConversationRecord,
  type MemberRecord,
  isPresent,
  toConversation,
  toConversationFact,
  toMember,
  toMemberFact,
} from './conversation.model';
import {
  type Decision,
  type LifecycleAction,
  TRANSITIONS,
  checkAddMembers,
  checkEditConversation,
  checkJoin,
  checkRemove,
  checkTransition,
  checkUpdateMember,
  directKeyOf,
  pickNextOwner,
} from './conversation.policy';
import type { ConversationRepository } from './conversation.repository';
import type {
  CreateConversationBody,
  ListConversationsQuery,
  PublicConversationsQuery,
  UpdateConversationBody,
  UpdateMemberBody,
} from './conversation.schemas';
import type { ReadYourWrites } from './read-your-writes';

export interface ConversationServiceDeps {
  db: Db;
  repo: ConversationRepository;
  outbox: Pick<Outbox, 'transaction'>;
  users: UserDirectory;
  readYourWrites: ReadYourWrites;
  logger: Pick<Logger, 'warn' | 'info' | 'debug'>;
  now?: () => Date;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const DEFAULT_STATUSES = ['open', 'closed'];

function enforce(decision: Decision): void {
  if (!decision) return;
  if (decision.kind === 'forbidden') throw forbidden(decision.message);
  if (decision.kind === 'conflict') throw conflict(decision.message);
  throw validationFailed([{ field: decision.field, code: 'invalid', message: decision.message }]);
}

function metadataTooLarge(metadata: Record<string, unknown> | undefined): boolean {
  return metadata !== undefined && Buffer.byteLength(JSON.stringify(metadata), 'utf8') > LIMITS.metadataBytes;
}

export function createConversationService(deps: ConversationServiceDeps) {
  const { db, repo, outbox, users } = deps;
  const now = deps.now ?? (() => new Date());

  /**
   * How a user may see a conversation: as a member (banned ones are not),
   * as an outsider of a public group (read only), or not at all (404, so a
   * private conversation's existence never leaks).
   */
  function visibleTo(conv: ConversationRecord | null, member: MemberRecord | null): ConversationRecord {
    if (!conv) throw notFound('conversation not found');
    if (member && isPresent(member)) return conv;
    if (conv.type === 'group' && conv.visibility === 'public') return conv;
    throw notFound('conversation not found');
  }

  /** A present member may act; an outsider of a public group is forbidden; of a private one, 404. */
  async function loadForChange(tx: Tx, id: string, actorId: string) {
    const conv = await repo.findConversation(tx, id, { forUpdate: true });
    const actor = conv ? await repo.findMember(tx, id, actorId) : null;
    visibleTo(conv, actor);
    if (!actor || !isPresent(actor)) throw forbidden('you are not a member of this conversation');
    return { conv: conv!, actor };
  }

  async function viewFor(on: Db | Tx, conv: ConversationRecord, userId: string): Promise<Conversation> {
    const member = await repo.findMember(on, conv.id, userId);
    const unread = member && isPresent(member) ? await repo.countUnread(on, conv.id, userId) : 0;
    return toConversation({ conversation: conv, member, unreadCount: unread });
  }

  function unknownUsersError(ids: string[], field = 'memberIds') {
    return validationFailed(
      ids.map((id) => ({ field, code: 'unknown_user', message: `no user with id ${id}` })),
      'unknown user ids',
    );
  }

  /**
   * After a member left (or was removed, banned or deleted): delete the
   * conversation when nobody is left, else make sure it still has an owner.
   * Returns true when the conversation was deleted.
   */
  async function settleAfterDeparture(
    tx: Tx,
    emit: Emit,
    conv: ConversationRecord,
    actorId: string | null,
    handOverActor: string,
  ): Promise<boolean> {
    const remaining = await repo.listAllMembers(tx, conv.id);
    if (!remaining.some(isPresent)) {
      await repo.deleteConversation(tx, conv.id);
      await emit('conversation.deleted', { conversationId: conv.id, actorId, reason: 'empty' });
      return true;
    }
    const next = pickNextOwner(remaining);
    if (next) {
      const promoted = await repo.updateMember(tx, conv.id, next.userId, { role: 'owner' });
      await emit('member.updated', {
        conversationId: conv.id,
        member: toMemberFact(promoted),
        previous: { role: next.role, state: next.state, notifications: next.notifications },
        actorId: handOverActor,
      });
    }
    return false;
  }

  return {
    async create(
      actorId: string,
      body: CreateConversationBody,
    ): Promise<{ conversation: Conversation; created: boolean }> {
      const others = [...new Set(body.memberIds.map((id) => id.toLowerCase()))].filter((id) => id !== actorId);
      const details: { field: string; code: string; message: string }[] = [];
      if (body.type === 'direct') {
        if (body.memberIds.length !== 1 || others.length !== 1) {
          details.push({
            field: 'memberIds',
            code: 'invalid',
            message: 'a direct conversation takes exactly one other user',
          });
        }
        if (body.visibility === 'public') {
          details.push({ field: 'visibility', code: 'invalid', message: 'direct conversations are private' });
        }
        if (body.maxMembers !== undefined && body.maxMembers !== 2) {
          details.push({
            field: 'maxMembers',
            code: 'invalid',
            message: 'direct conversations have exactly two members',
          });
        }
      }
      if (metadataTooLarge(body.metadata)) {
        details.push({
          field: 'metadata',
          code: 'too_large',
          message: `metadata is over ${LIMITS.metadataBytes} bytes`,
        });
      }
      if (details.length > 0) throw validationFailed(details);
      const maxMembers = body.type === 'direct' ? 2 : (body.maxMembers ?? LIMITS.maxMembersDefault);
      if (1 + others.length > maxMembers) throw conflict(`a conversation holds at most ${maxMembers} members`);
      // The creator is resolved too (for their name), but is never refused: the token vouches for them,
      // and creating a conversation alone does not need auth to answer.
      let unknown: string[] = [];
      try {
        ({ unknown } = await users.resolve([actorId, ...others]));
      } catch (err) {
        if (others.length > 0) throw err;
      }
      const unknownOthers = unknown.filter((u) => u !== actorId);
      if (unknownOthers.length > 0) throw unknownUsersError(unknownOthers);

      const at = now();
      const directKey = body.type === 'direct' ? directKeyOf(actorId, others[0]!) : null;
      const result = await outbox.transaction(async (tx, emit) => {
        const live = new Set(await repo.lockLiveUsers(tx, others));
        const gone = others.filter((id) => !live.has(id));
        if (gone.length > 0) throw unknownUsersError(gone);
        const conv: ConversationRecord = {
          id: newId(),
          type: body.type,
          title: body.title ?? null,
          visibility: body.type === 'direct' ? 'private' : (body.visibility ?? 'private'),
          status: 'open',
          maxMembers,
          memberCount: 1 + others.length,
          metadata: body.metadata ?? {},
          createdBy: actorId,
          createdAt: at,
          updatedAt: at,
          directKey,
          lastActivityAt: at,
          lastMessageAt: null,
          lastSeq: 0,
          lastRev: 0,
          lastMessage: null,
        };
        if (!(await repo.insertConversation(tx, conv))) {
          // The pair already has a direct conversation (maybe committed a moment ago by a parallel call).
          const existing = await repo.findByDirectKey(tx, directKey!);
          if (!existing) throw conflict('direct conversation is being created, retry');
          return { conv: existing, created: false };
        }
        // Both sides of a direct conversation own it (either may close or reopen it).
        const otherRole: MemberRole = body.type === 'direct' ? 'owner' : 'member';
        const rows: MemberRecord[] = [actorId, ...others].map((userId) => ({
          conversationId: conv.id,
          userId,
          role: userId === actorId ? 'owner' : otherRole,
          state: 'active',
          notifications: 'all',
          joinedAt: at,
          lastReadSeq: 0,
        }));
        await repo.insertMembers(tx, rows);
        await emit('conversation.created', {
          conversation: toConversationFact(conv),
          members: rows.map(toMemberFact),
          actorId,
        });
        return { conv, created: true };
      });
      return { conversation: await viewFor(db, result.conv, actorId), created: result.created };
    },

    async list(actorId: string, q: ListConversationsQuery): Promise<Page<Conversation>> {
      const statuses = q.status ? [...new Set(q.status.split(','))] : DEFAULT_STATUSES;
      const limit = q.limit ?? LIMITS.pageDefault;
      const after = decodeCursor(q.cursor);
      await deps.readYourWrites.await(actorId);
      const rows = await repo.listForUser(db, actorId, statuses, after, limit + 1);
      return page(
        rows,
        limit,
        (r) => toConversation(r),
        (r) => encodeCursor(r.conversation.lastActivityAt, r.conversation.id),
      );
    },

    async listPublic(actorId: string, q: PublicConversationsQuery): Promise<Page<Conversation>> {
      const limit = q.limit ?? LIMITS.pageDefault;
      const after = decodeCursor(q.cursor);
      const query = q.query?.trim() || undefined;
      const convs = await repo.listPublic(db, query, after, limit + 1);
      const mine = await repo.membershipsOf(
        db,
        actorId,
        convs.map((c) => c.id),
      );
      const rows: ConversationForUser[] = convs.map((c) => {
        const m = mine.get(c.id);
        return { conversation: c, member: m?.member ?? null, unreadCount: m?.unread ?? 0 };
      });
      return page(
        rows,
        limit,
        (r) => toConversation(r),
        (r) => encodeCursor(r.conversation.lastActivityAt, r.conversation.id),
      );
    },

    async get(actorId: string, id: string): Promise<Conversation> {
      await deps.readYourWrites.await(actorId, [id]);
      const conv = await repo.findConversation(db, id);
      const member = conv ? await repo.findMember(db, id, actorId) : null;
      visibleTo(conv, member);
      const unread = member && isPresent(member) ? await repo.countUnread(db, id, actorId) : 0;
      return toConversation({ conversation: conv!, member, unreadCount: unread });
    },

    async update(actorId: string, id: string, patch: UpdateConversationBody): Promise<Conversation> {
      const conv = await outbox.transaction(async (tx, emit) => {
        const { conv, actor } = await loadForChange(tx, id, actorId);
        enforce(checkEditConversation(conv, actor));
        const details: { field: string; code: string; message: string }[] = [];
        if (conv.type === 'direct' && patch.visibility !== undefined && patch.visibility !== 'private') {
          details.push({ field: 'visibility', code: 'invalid', message: 'direct conversations are private' });
        }
        if (conv.type === 'direct' && patch.maxMembers !== undefined && patch.maxMembers !== 2) {
          details.push({
            field: 'maxMembers',
            code: 'invalid',
            message: 'direct conversations have exactly two members',
          });
        }
        if (metadataTooLarge(patch.metadata)) {
          details.push({
            field: 'metadata',
            code: 'too_large',
            message: `metadata is over ${LIMITS.metadataBytes} bytes`,
          });
        }
        if (details.length > 0) throw validationFailed(details);
        if (patch.maxMembers !== undefined && patch.maxMembers < conv.memberCount) {
          throw conflict(`the conversation already has ${conv.memberCount} members`);
        }
        const changed: string[] = [];
        if (patch.title !== undefined && patch.title !== conv.title) changed.push('title');
        if (patch.visibility !== undefined && patch.visibility !== conv.visibility) changed.push('visibility');
        if (patch.maxMembers !== undefined && patch.maxMembers !== conv.maxMembers) changed.push('maxMembers');
        if (patch.metadata !== undefined && JSON.stringify(patch.metadata) !== JSON.stringify(conv.metadata)) {
          changed.push('metadata');
        }
        if (changed.length === 0) return conv; // nothing changed: no event
        const updated = await repo.updateConversation(tx, id, {
          ...(changed.includes('title') ? { title: patch.title } : {}),
          ...(changed.includes('visibility') ? { visibility: patch.visibility } : {}),
          ...(changed.includes('maxMembers') ? { maxMembers: patch.maxMembers } : {}),
          ...(changed.includes('metadata') ? { metadata: patch.metadata } : {}),
          updatedAt: now(),
        });
        await emit('conversation.updated', {
          conversation: toConversationFact(updated),
          change: 'updated',
          changedFields: changed,
          previous: { title: conv.title, status: conv.status },
          actorId,
        });
        return updated;
      });
      return viewFor(db, conv, actorId);
    },

    async transition(actorId: string, id: string, action: LifecycleAction): Promise<Conversation> {
      const conv = await outbox.transaction(async (tx, emit) => {
        const { conv, actor } = await loadForChange(tx, id, actorId);
        enforce(checkTransition(conv, actor, action));
        const updated = await repo.updateConversation(tx, id, { status: TRANSITIONS[action].to, updatedAt: now() });
        const change = ({ close: 'closed', archive: 'archived', reopen: 'reopened' } as const)[action];
        await emit('conversation.updated', {
          conversation: toConversationFact(updated),
          change,
          changedFields: ['status'],
          previous: { title: conv.title, status: conv.status },
          actorId,
        });
        return updated;
      });
      return viewFor(db, conv, actorId);
    },

    async join(actorId: string, id: string): Promise<Conversation> {
      const { unknown } = await users.resolve([actorId]);
      const conv = await outbox.transaction(async (tx, emit) => {
        const conv = await repo.findConversation(tx, id, { forUpdate: true });
        const existing = conv ? await repo.findMember(tx, id, actorId) : null;
        visibleTo(conv, existing);
        if (existing && isPresent(existing)) return conv!; // already a member: nothing to do
        enforce(checkJoin(conv!, existing));
        if (unknown.length > 0 || (await repo.lockLiveUsers(tx, [actorId])).length === 0) {
          throw forbidden('your account cannot join conversations');
        }
        if (conv!.memberCount >= conv!.maxMembers)
          throw conflict(`the conversation is full (${conv!.maxMembers} members)`);
        // A mute outlives leaving: a muted member cannot shed it by leaving and joining again.
        const wasMuted = (await repo.takeDepartedMutes(tx, id, [actorId])).has(actorId);
        const member: MemberRecord = {
          conversationId: id,
          userId: actorId,
          role: 'member',
          state: wasMuted ? 'muted' : 'active',
          notifications: 'all',
          joinedAt: now(),
          lastReadSeq: 0,
        };
        await repo.insertMembers(tx, [member]);
        const updated = await repo.updateConversation(tx, id, { memberCount: conv!.memberCount + 1 });
        await emit('member.added', {
          conversationId: id,
          conversation: toConversationFact(updated),
          member: toMemberFact(member),
          actorId,
          via: 'joined',
        });
        return updated;
      });
      return viewFor(db, conv, actorId);
    },

    async listMembers(actorId: string, id: string, q: { limit?: number; cursor?: string }): Promise<Page<Member>> {
      const conv = await repo.findConversation(db, id);
      const member = conv ? await repo.findMember(db, id, actorId) : null;
      visibleTo(conv, member);
      const limit = q.limit ?? LIMITS.pageDefault;
      const after = decodeCursor(q.cursor);
      const rows = await repo.listMembersPage(db, id, after ? { at: after.at, userId: after.id } : null, limit + 1);
      const names = await repo.namesOf(
        db,
        rows.map((m) => m.userId),
      );
      return page(
        rows,
        limit,
        (m) => toMember(m, names),
        (m) => encodeCursor(m.joinedAt, m.userId),
      );
    },

    async addMembers(actorId: string, id: string, userIds: string[]): Promise<{ items: Member[] }> {
      const ids = [...new Set(userIds.map((u) => u.toLowerCase()))];
      // Permission first: an outsider learns nothing about which ids exist.
      await db.transaction(async (tx) => {
        const { conv, actor } = await loadForChange(tx, id, actorId);
        enforce(checkAddMembers(conv, actor));
      });
      const { unknown } = await users.resolve(ids);
      if (unknown.length > 0) throw unknownUsersError(unknown, 'userIds');
      const rows = await outbox.transaction(async (tx, emit) => {
        const { conv, actor } = await loadForChange(tx, id, actorId);
        enforce(checkAddMembers(conv, actor));
        const live = new Set(await repo.lockLiveUsers(tx, ids));
        const gone = ids.filter((u) => !live.has(u));
        if (gone.length > 0) throw unknownUsersError(gone, 'userIds');
        const existing = await repo.findMembers(tx, id, ids);
        const banned = existing.filter((m) => m.state === 'banned').map((m) => m.userId);
        if (banned.length > 0) throw conflict(`banned users cannot be added until unbanned: ${banned.join(', ')}`);
        const have = new Set(existing.map((m) => m.userId));
        const fresh = ids.filter((u) => !have.has(u));
        if (conv.memberCount + fresh.length > conv.maxMembers) {
          throw conflict(`the conversation holds at most ${conv.maxMembers} members`);
        }
        if (fresh.length === 0) return existing;
        // An admin adding someone back is a grant: a mute they left with is forgotten.
        await repo.takeDepartedMutes(tx, id, fresh);
        const at = now();
        const added: MemberRecord[] = fresh.map((userId) => ({
          conversationId: id,
          userId,
          role: 'member',
          state: 'active',
          notifications: 'all',
          joinedAt: at,
          lastReadSeq: 0,
        }));
        await repo.insertMembers(tx, added);
        const updated = await repo.updateConversation(tx, id, { memberCount: conv.memberCount + fresh.length });
        for (const m of added) {
          await emit('member.added', {
            conversationId: id,
            conversation: toConversationFact(updated),
            member: toMemberFact(m),
            actorId,
            via: 'added',
          });
        }
        return [...existing, ...added];
      });
      const order = new Map(ids.map((u, i) => [u, i]));
      const names = await repo.namesOf(db, ids);
      return { items: rows.sort((a, b) => order.get(a.userId)! - order.get(b.userId)!).map((m) => toMember(m, names)) };
    },

    async updateMember(actorId: string, id: string, targetId: string, change: UpdateMemberBody): Promise<Member> {
      const member = await outbox.transaction(async (tx, emit) => {
        const { conv, actor } = await loadForChange(tx, id, actorId);
        const target = await repo.findMember(tx, id, targetId);
        if (!target) throw notFound('member not found');
        const all = await repo.listAllMembers(tx, id);
        const ownersLeft = all.filter((m) => m.userId !== targetId && isPresent(m) && m.role === 'owner').length;
        enforce(checkUpdateMember(conv, actor, target, change, ownersLeft));
        const nextState: MemberState = change.state ?? target.state;
        // A ban removes: the banned row keeps no role; an unbanned user comes back as a member unless told otherwise.
        const nextRole: MemberRole = nextState === 'banned' ? 'member' : (change.role ?? target.role);
        if (nextState === target.state && nextRole === target.role) return target; // no change: no event
        const wasPresent = isPresent(target);
        const willBePresent = nextState !== 'banned';
        let memberCount = conv.memberCount;
        if (!wasPresent && willBePresent) {
          if (conv.memberCount >= conv.maxMembers)
            throw conflict(`the conversation is full (${conv.maxMembers} members)`);
          memberCount += 1;
        } else if (wasPresent && !willBePresent) {
          memberCount -= 1;
        }
        const updated = await repo.updateMember(tx, id, targetId, { role: nextRole, state: nextState });
        if (memberCount !== conv.memberCount) await repo.updateConversation(tx, id, { memberCount });
        await emit('member.updated', {
          conversationId: id,
          member: toMemberFact(updated),
          previous: { role: target.role, state: target.state, notifications: target.notifications },
          actorId,
        });
        return updated;
      });
      return toMember(member, await repo.namesOf(db, [targetId]));
    },

    async removeMember(actorId: string, id: string, targetId: string): Promise<void> {
      await outbox.transaction(async (tx, emit) => {
        const { conv, actor } = await loadForChange(tx, id, actorId);
        const target = actorId === targetId ? actor : await repo.findMember(tx, id, targetId);
        // A banned user is already out; removing their row would lift the ban.
        if (!target || !isPresent(target)) throw notFound('member not found');
        enforce(checkRemove(conv, actor, target));
        if (target.state === 'muted') await repo.rememberDepartedMute(tx, id, targetId, now());
        await repo.deleteMember(tx, id, targetId);
        await repo.updateConversation(tx, id, { memberCount: conv.memberCount - 1 });
        await emit('member.removed', {
          conversationId: id,
          userId: targetId,
          actorId,
          reason: actorId === targetId ? 'left' : 'removed',
        });
        await settleAfterDeparture(tx, emit, conv, actorId, actorId);
      });
    },

    async updateMyMembership(
      actorId: string,
      id: string,
      notifications: MemberRecord['notifications'],
    ): Promise<Conversation> {
      const conv = await outbox.transaction(async (tx, emit) => {
        const { conv, actor } = await loadForChange(tx, id, actorId);
        if (actor.notifications === notifications) return conv;
        const updated = await repo.updateMember(tx, id, actorId, { notifications });
        await emit('member.updated', {
          conversationId: id,
          member: toMemberFact(updated),
          previous: { role: actor.role, state: actor.state, notifications: actor.notifications },
          actorId,
        });
        return conv;
      });
      return viewFor(db, conv, actorId);
    },

    /**
     * `user.deleted`: the user leaves every conversation; conversations left
     * empty are deleted, open direct ones are closed, ownership passes on.
     * Each conversation is settled in its own transaction; the whole is
     * idempotent (a redelivered or late event finds nothing left to do), and
     * the tombstone, written first, keeps parallel adds from re-adding them.
     */
    async purgeDeletedUser(userId: string, deletedAt: Date): Promise<void> {
      await repo.tombstoneUser(db, userId, deletedAt);
      const ids = await repo.conversationIdsOf(db, userId, { present: false });
      for (const id of ids) {
        await outbox.transaction(async (tx, emit) => {
          const conv = await repo.findConversation(tx, id, { forUpdate: true });
          const target = conv ? await repo.findMember(tx, id, userId) : null;
          if (!conv || !target) return;
          await repo.deleteMember(tx, id, userId);
          const memberCount = isPresent(target) ? conv.memberCount - 1 : conv.memberCount;
          const afterRemoval = await repo.updateConversation(tx, id, { memberCount });
          await emit('member.removed', { conversationId: id, userId, actorId: null, reason: 'account_deleted' });
          // The departed owner is recorded as the actor of the hand-over it caused.
          const deleted = await settleAfterDeparture(tx, emit, afterRemoval, null, userId);
          if (!deleted && conv.type === 'direct' && conv.status === 'open') {
            const closed = await repo.updateConversation(tx, id, { status: 'closed', updatedAt: now() });
            await emit('conversation.updated', {
              conversation: toConversationFact(closed),
              change: 'closed',
              changedFields: ['status'],
              previous: { title: conv.title, status: conv.status },
              actorId: null,
            });
          }
        });
      }
    },

    /** Finishes deletions a crash interrupted after the tombstone was written (run at start). */
    async finishInterruptedDeletions(): Promise<number> {
      const pending = await repo.deletedUsersWithMemberships(db);
      for (const u of pending) await this.purgeDeletedUser(u.id, u.deletedAt);
      return pending.length;
    },
  };
}

function page<R, T>(rows: R[], limit: number, map: (r: R) => T, cursorOf: (r: R) => string): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items: items.map(map), nextCursor: more ? cursorOf(items[items.length - 1]!) : null };
}

export type ConversationService = ReturnType<typeof createConversationService>;
