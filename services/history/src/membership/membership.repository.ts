/**
 * Read model of who may read which conversation, from the conversation
 * service's facts. Each upsert carries the `occurredAt` of its fact and is
 * ignored when a newer one is stored.
 */
import type { Db, DbOrTx } from '@parley/service-kit';
import { and, eq, inArray, lte, sql } from 'drizzle-orm';
import { members } from '../db/schema';

export type MemberState = 'active' | 'muted' | 'banned' | 'removed';

/** Members who may read: active and muted (a mute limits sending, not reading). */
export const READER_STATES: readonly MemberState[] = ['active', 'muted'];

export class MembershipRepository {
  constructor(readonly db: Db) {}

  async upsert(tx: DbOrTx, conversationId: string, userId: string, state: MemberState, versionAt: Date): Promise<void> {
    await tx
      .insert(members)
      .values({ conversationId, userId, state, versionAt })
      .onConflictDoUpdate({
        target: [members.conversationId, members.userId],
        set: { state: sql`excluded.state`, versionAt: sql`excluded.version_at` },
        setWhere: lte(members.versionAt, sql`excluded.version_at`),
      });
  }

  /** Many members of one conversation in one statement, each unless a newer fact is stored. */
  async upsertMany(
    tx: DbOrTx,
    conversationId: string,
    list: { userId: string; state: MemberState }[],
    versionAt: Date,
  ): Promise<void> {
    // One row per user: a multi-row upsert may not touch the same row twice.
    const unique = [...new Map(list.map((m) => [m.userId, m])).values()];
    if (unique.length === 0) return;
    await tx
      .insert(members)
      .values(unique.map((m) => ({ conversationId, userId: m.userId, state: m.state, versionAt })))
      .onConflictDoUpdate({
        target: [members.conversationId, members.userId],
        set: { state: sql`excluded.state`, versionAt: sql`excluded.version_at` },
        setWhere: lte(members.versionAt, sql`excluded.version_at`),
      });
  }

  async deleteConversation(tx: DbOrTx, conversationId: string): Promise<void> {
    await tx.delete(members).where(eq(members.conversationId, conversationId));
  }

  async deleteUser(tx: DbOrTx, userId: string): Promise<void> {
    await tx.delete(members).where(eq(members.userId, userId));
  }

  async stateOf(conversationId: string, userId: string): Promise<MemberState | null> {
    const [row] = await this.db
      .select({ state: members.state })
      .from(members)
      .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)));
    return row?.state ?? null;
  }

  /** Conversations the user may read, per the model. */
  async readableConversations(userId: string): Promise<string[]> {
    const rows = await this.db
      .select({ id: members.conversationId })
      .from(members)
      .where(and(eq(members.userId, userId), inArray(members.state, [...READER_STATES])));
    return rows.map((r) => r.id);
  }
}
