/**
 * Current message state, revisions and the deletion audit. Every state
 * write is conditional on `rev`: events may arrive twice or out of order,
 * and only a newer change may replace what is stored.
 */
import type { Message } from '@parley/contracts';
import type { Db, DbOrTx } from '@parley/service-kit';
import { and, asc, eq, gt, inArray, or, sql } from 'drizzle-orm';
import { conversations, deletedUsers, deletions, messages, revisions } from '../db/schema';

export interface MessageState {
  id: string;
  conversationId: string;
  senderId: string | null;
  rev: number;
  deletedAt: Date | null;
}

export interface Revision {
  rev: number;
  content: string;
  editedAt: Date;
  editorId: string;
}

export class HistoryRepository {
  constructor(readonly db: Db) {}

  /**
   * Stores the message as of `message.rev` unless a change with a higher
   * rev is already stored. `content` is what the index covers ('' for a
   * deleted or erased message). Returns true when it was applied.
   */
  async applyState(tx: DbOrTx, message: Message, content: string): Promise<boolean> {
    const snapshot = { ...message, content };
    const rows = await tx
      .insert(messages)
      .values({
        id: message.id,
        conversationId: message.conversationId,
        senderId: message.senderId,
        rev: message.rev,
        content,
        snapshot,
        createdAt: new Date(message.createdAt),
        deletedAt: message.deletedAt ? new Date(message.deletedAt) : null,
      })
      .onConflictDoUpdate({
        target: messages.id,
        set: {
          rev: sql`excluded.rev`,
          content: sql`excluded.content`,
          snapshot: sql`excluded.snapshot`,
          deletedAt: sql`excluded.deleted_at`,
        },
        setWhere: sql`${messages.rev} < excluded.rev`,
      })
      .returning({ id: messages.id });
    await tx
      .insert(conversations)
      .values({ id: message.conversationId, appliedRev: message.rev })
      .onConflictDoUpdate({
        target: conversations.id,
        set: { appliedRev: sql`greatest(${conversations.appliedRev}, excluded.applied_rev)` },
      });
    return rows.length > 0;
  }

  async getState(tx: DbOrTx, id: string): Promise<MessageState | null> {
    const [row] = await tx
      .select({
        id: messages.id,
        conversationId: messages.conversationId,
        senderId: messages.senderId,
        rev: messages.rev,
        deletedAt: messages.deletedAt,
      })
      .from(messages)
      .where(eq(messages.id, id));
    return row ?? null;
  }

  async insertRevision(tx: DbOrTx, r: Revision & { messageId: string; conversationId: string }): Promise<void> {
    await tx
      .insert(revisions)
      .values(r)
      .onConflictDoNothing({ target: [revisions.messageId, revisions.rev] });
  }

  /** Oldest first (by the rev of the edit). */
  async listRevisions(messageId: string, opts: { afterRev?: number; limit: number }): Promise<Revision[]> {
    const conditions = [eq(revisions.messageId, messageId)];
    if (opts.afterRev !== undefined) conditions.push(gt(revisions.rev, opts.afterRev));
    return this.db
      .select({
        rev: revisions.rev,
        content: revisions.content,
        editedAt: revisions.editedAt,
        editorId: revisions.editorId,
      })
      .from(revisions)
      .where(and(...conditions))
      .orderBy(asc(revisions.rev))
      .limit(opts.limit);
  }

  async deleteRevisionsOf(tx: DbOrTx, messageId: string): Promise<void> {
    await tx.delete(revisions).where(eq(revisions.messageId, messageId));
  }

  async recordDeletion(
    tx: DbOrTx,
    d: { messageId: string; conversationId: string; deletedBy: string | null; deletedAt: Date; rev: number },
  ): Promise<void> {
    await tx.insert(deletions).values(d).onConflictDoNothing({ target: deletions.messageId });
  }

  async getDeletion(
    tx: DbOrTx,
    messageId: string,
  ): Promise<{ deletedBy: string | null; deletedAt: Date; rev: number } | null> {
    const [row] = await tx
      .select({ deletedBy: deletions.deletedBy, deletedAt: deletions.deletedAt, rev: deletions.rev })
      .from(deletions)
      .where(eq(deletions.messageId, messageId));
    return row ?? null;
  }

  /**
   * Account deletion: their revisions (as editor, or of their messages) and
   * their messages' text leave the store and the index; a tombstone keeps
   * late events from bringing them back.
   */
  async eraseUser(tx: DbOrTx, userId: string, at: Date): Promise<void> {
    await tx.insert(deletedUsers).values({ id: userId, deletedAt: at }).onConflictDoNothing();
    const theirs = tx.select({ id: messages.id }).from(messages).where(eq(messages.senderId, userId));
    await tx.delete(revisions).where(or(eq(revisions.editorId, userId), inArray(revisions.messageId, theirs)));
    await tx
      .update(messages)
      .set({ content: '', snapshot: sql`jsonb_set(${messages.snapshot}, '{content}', '""')` })
      .where(eq(messages.senderId, userId));
  }

  async isUserDeleted(tx: DbOrTx, userId: string): Promise<boolean> {
    const [row] = await tx.select({ id: deletedUsers.id }).from(deletedUsers).where(eq(deletedUsers.id, userId));
    return row !== undefined;
  }

  /** Highest message rev applied per conversation (absent: none yet). */
  async appliedRevs(conversationIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (conversationIds.length === 0) return out;
    const rows = await this.db
      .select({ id: conversations.id, rev: conversations.appliedRev })
      .from(conversations)
      .where(inArray(conversations.id, conversationIds));
    for (const r of rows) out.set(r.id, r.rev);
    return out;
  }
}
