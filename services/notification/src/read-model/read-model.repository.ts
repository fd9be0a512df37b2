/**
 * The local read models (conversations, members, users, messages) fed by
 * other services' events. Every upsert carries the `occurredAt` of the fact
 * it applies and is ignored when the stored row is newer: member.* events
 * come through separate consumers and may arrive out of order.
 */
import type { DbOrTx } from '@parley/service-kit';
import { and, eq, inArray, isNull, lte, notInArray, sql } from 'drizzle-orm';
import type { Db } from '@parley/service-kit';
import { conversations, members, messages, readMarks, users } from '../db/schema';
import type { MemberState, MemberView, Preference } from '../notifications/notification.rules';

export interface ConversationView {
  id: string;
  type: 'direct' | 'group';
  title: string | null;
  membersComplete: boolean;
}

export interface MessageView {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string | null;
  lastEditNotifiedAt: Date | null;
}

export interface MemberFactInput {
  userId: string;
  state: Exclude<MemberState, 'removed'>;
  preference: Preference;
}

export class ReadModelRepository {
  async upsertConversation(
    tx: DbOrTx,
    c: { id: string; type: 'direct' | 'group'; title: string | null },
    versionAt: Date,
    membersComplete: boolean,
  ): Promise<void> {
    await tx
      .insert(conversations)
      .values({ ...c, membersComplete, versionAt })
      .onConflictDoUpdate({
        target: conversations.id,
        set: {
          type: sql`case when ${conversations.versionAt} <= excluded.version_at then excluded.type else ${conversations.type} end`,
          title: sql`case when ${conversations.versionAt} <= excluded.version_at then excluded.title else ${conversations.title} end`,
          versionAt: sql`greatest(${conversations.versionAt}, excluded.version_at)`,
          // Completeness only ever turns on.
          membersComplete: sql`${conversations.membersComplete} or excluded.members_complete`,
        },
      });
  }

  async getConversation(tx: DbOrTx, id: string): Promise<ConversationView | null> {
    const [row] = await tx
      .select({
        id: conversations.id,
        type: conversations.type,
        title: conversations.title,
        membersComplete: conversations.membersComplete,
      })
      .from(conversations)
      .where(eq(conversations.id, id));
    return row ?? null;
  }

  async deleteConversation(tx: DbOrTx, id: string): Promise<void> {
    await tx.delete(members).where(eq(members.conversationId, id));
    await tx.delete(conversations).where(eq(conversations.id, id));
  }

  /** Applies a member fact unless a newer one is stored. */
  async upsertMember(
    tx: DbOrTx,
    conversationId: string,
    m: { userId: string; state: MemberState; preference?: Preference },
    versionAt: Date,
  ): Promise<void> {
    await tx
      .insert(members)
      .values({
        conversationId,
        userId: m.userId,
        state: m.state,
        preference: m.preference ?? 'all',
        versionAt,
      })
      .onConflictDoUpdate({
        target: [members.conversationId, members.userId],
        set: {
          state: sql`excluded.state`,
          // A removal carries no preference: keep the stored one.
          preference: m.preference ? sql`excluded.preference` : sql`${members.preference}`,
          versionAt: sql`excluded.version_at`,
        },
        setWhere: sql`${members.versionAt} <= excluded.version_at`,
      });
  }

  /** Applies many member facts of one conversation in one statement, each unless a newer fact is stored. */
  async upsertMembers(tx: DbOrTx, conversationId: string, list: MemberFactInput[], versionAt: Date): Promise<void> {
    // One row per user: a multi-row upsert may not touch the same row twice.
    const unique = [...new Map(list.map((m) => [m.userId, m])).values()];
    if (unique.length === 0) return;
    await tx
      .insert(members)
      .values(
        unique.map((m) => ({ conversationId, userId: m.userId, state: m.state, preference: m.preference, versionAt })),
      )
      .onConflictDoUpdate({
        target: [members.conversationId, members.userId],
        set: { state: sql`excluded.state`, preference: sql`excluded.preference`, versionAt: sql`excluded.version_at` },
        setWhere: sql`${members.versionAt} <= excluded.version_at`,
      });
  }

  /**
   * Replaces a conversation's member list with the owner's answer: listed
   * members are upserted, the others marked removed, each unless a newer
   * fact is stored.
   */
  async replaceMembers(tx: DbOrTx, conversationId: string, list: MemberFactInput[], versionAt: Date): Promise<void> {
    await this.upsertMembers(tx, conversationId, list, versionAt);
    const listed = list.map((m) => m.userId);
    const others = [eq(members.conversationId, conversationId), lte(members.versionAt, versionAt)];
    if (listed.length > 0) others.push(notInArray(members.userId, listed));
    await tx
      .update(members)
      .set({ state: 'removed', versionAt })
      .where(and(...others));
  }

  async listMembers(tx: DbOrTx, conversationId: string): Promise<MemberView[]> {
    return tx
      .select({ userId: members.userId, state: members.state, preference: members.preference })
      .from(members)
      .where(eq(members.conversationId, conversationId));
  }

  /** Account deletion: the user leaves every conversation of the model. */
  async deleteMemberships(tx: DbOrTx, userId: string): Promise<void> {
    await tx.delete(members).where(eq(members.userId, userId));
  }

  async upsertUser(tx: DbOrTx, u: { id: string; name: string }, versionAt: Date): Promise<void> {
    await tx
      .insert(users)
      .values({ id: u.id, name: u.name, deletedAt: null, versionAt })
      .onConflictDoUpdate({
        target: users.id,
        set: { name: sql`excluded.name`, versionAt: sql`excluded.version_at` },
        // A tombstone is final; older facts never overwrite newer ones.
        setWhere: and(isNull(users.deletedAt), lte(users.versionAt, sql`excluded.version_at`)),
      });
  }

  async tombstoneUser(tx: DbOrTx, userId: string, at: Date): Promise<void> {
    await tx
      .insert(users)
      .values({ id: userId, name: null, deletedAt: at, versionAt: at })
      .onConflictDoUpdate({ target: users.id, set: { name: null, deletedAt: at, versionAt: at } });
  }

  /** Names of the given users that are known; deleted users map to null. */
  async userNames(tx: DbOrTx, ids: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    if (ids.length === 0) return out;
    const rows = await tx
      .select({ id: users.id, name: users.name, deletedAt: users.deletedAt })
      .from(users)
      .where(inArray(users.id, ids));
    for (const r of rows) out.set(r.id, r.deletedAt ? null : r.name);
    return out;
  }

  async insertMessage(
    tx: DbOrTx,
    m: { id: string; conversationId: string; seq: number; senderId: string | null },
  ): Promise<void> {
    await tx.insert(messages).values(m).onConflictDoNothing({ target: messages.id });
  }

  async getMessage(tx: DbOrTx, id: string): Promise<MessageView | null> {
    const [row] = await tx.select().from(messages).where(eq(messages.id, id));
    return row ?? null;
  }

  /**
   * Records the edit that produced notifications, only if the stored value
   * is still `previous` (compare-and-set: of two replicas handling edits of
   * the same message at once, one wins). Returns true when recorded.
   */
  async setLastEditNotified(tx: DbOrTx, messageId: string, previous: Date | null, editedAt: Date): Promise<boolean> {
    const rows = await tx
      .update(messages)
      .set({ lastEditNotifiedAt: editedAt })
      .where(
        and(
          eq(messages.id, messageId),
          previous ? eq(messages.lastEditNotifiedAt, previous) : isNull(messages.lastEditNotifiedAt),
        ),
      )
      .returning({ id: messages.id });
    return rows.length > 0;
  }

  /** Moves a member's read marker forward (never back). */
  async advanceReadMark(tx: DbOrTx, userId: string, conversationId: string, readSeq: number): Promise<void> {
    await tx
      .insert(readMarks)
      .values({ userId, conversationId, readSeq })
      .onConflictDoUpdate({
        target: [readMarks.userId, readMarks.conversationId],
        set: { readSeq: sql`greatest(${readMarks.readSeq}, excluded.read_seq)` },
      });
  }

  async readMarks(db: Db, userId: string, conversationIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (conversationIds.length === 0) return out;
    const rows = await db
      .select({ conversationId: readMarks.conversationId, readSeq: readMarks.readSeq })
      .from(readMarks)
      .where(and(eq(readMarks.userId, userId), inArray(readMarks.conversationId, conversationIds)));
    for (const r of rows) out.set(r.conversationId, r.readSeq);
    return out;
  }

  /** Conversations where the user is an active or muted member, per the model. */
  async conversationsOf(db: Db, userId: string, limit: number): Promise<string[]> {
    const rows = await db
      .select({ id: members.conversationId })
      .from(members)
      .where(and(eq(members.userId, userId), inArray(members.state, ['active', 'muted'])))
      .limit(limit);
    return rows.map((r) => r.id);
  }
}
