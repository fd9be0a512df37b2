/**
 * Notifications table access. The only notification file that speaks
 * drizzle; returns plain domain objects.
 */
import type { Notification, NotificationKind } from '@parley/contracts';
import type { Db, DbOrTx } from '@parley/service-kit';
import { and, count, desc, eq, inArray, isNull, lt, lte, sql } from 'drizzle-orm';
import { notifications } from '../db/schema';

type Row = typeof notifications.$inferSelect;

export interface NewNotification {
  id: string;
  userId: string;
  kind: NotificationKind;
  dedupeKey: string;
  conversationId: string;
  messageId: string;
  seq: number;
  title: string;
  body: string;
  createdAt: Date;
}

function toNotification(r: Row): Notification {
  return {
    id: r.id,
    userId: r.userId,
    kind: r.kind,
    conversationId: r.conversationId,
    messageId: r.messageId,
    title: r.title,
    body: r.body,
    readAt: r.readAt ? r.readAt.toISOString() : null,
    createdAt: r.createdAt.toISOString(),
  };
}

export class NotificationRepository {
  constructor(private readonly db: Db) {}

  /**
   * One multi-row insert per message. A row whose (user, message, dedupe
   * key) exists is skipped, so a re-applied event adds nothing; only the
   * rows actually inserted are returned (and announced).
   */
  async insertMany(tx: DbOrTx, rows: NewNotification[]): Promise<Notification[]> {
    if (rows.length === 0) return [];
    const inserted = await tx
      .insert(notifications)
      .values(rows.map((r) => ({ ...r, readAt: null })))
      .onConflictDoNothing({ target: [notifications.userId, notifications.messageId, notifications.dedupeKey] })
      .returning();
    return inserted.map(toNotification);
  }

  /** Newest first; `beforeId` is the last id of the previous page (ids are time-ordered UUID v7). */
  async listForUser(
    userId: string,
    opts: { unreadOnly: boolean; limit: number; beforeId?: string },
  ): Promise<Notification[]> {
    const conditions = [eq(notifications.userId, userId)];
    if (opts.unreadOnly) conditions.push(isNull(notifications.readAt));
    if (opts.beforeId) conditions.push(lt(notifications.id, opts.beforeId));
    const rows = await this.db
      .select()
      .from(notifications)
      .where(and(...conditions))
      .orderBy(desc(notifications.id))
      .limit(opts.limit);
    return rows.map(toNotification);
  }

  async countUnread(userId: string): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(notifications)
      .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)));
    return Number(row?.n ?? 0);
  }

  async findForUser(tx: DbOrTx, userId: string, id: string): Promise<Notification | null> {
    const [row] = await tx
      .select()
      .from(notifications)
      .where(and(eq(notifications.id, id), eq(notifications.userId, userId)));
    return row ? toNotification(row) : null;
  }

  /** Marks one unread notification read; returns it when it changed. */
  async markOneRead(tx: DbOrTx, userId: string, id: string, at: Date): Promise<Notification | null> {
    const [row] = await tx
      .update(notifications)
      .set({ readAt: at })
      .where(and(eq(notifications.id, id), eq(notifications.userId, userId), isNull(notifications.readAt)))
      .returning();
    return row ? toNotification(row) : null;
  }

  /** Marks every unread notification of the user (optionally of one conversation) read; returns their ids. */
  async markAllRead(tx: DbOrTx, userId: string, at: Date, conversationId?: string): Promise<string[]> {
    const conditions = [eq(notifications.userId, userId), isNull(notifications.readAt)];
    if (conversationId) conditions.push(eq(notifications.conversationId, conversationId));
    const rows = await tx
      .update(notifications)
      .set({ readAt: at })
      .where(and(...conditions))
      .returning({ id: notifications.id });
    return rows.map((r) => r.id);
  }

  /** Read receipt: unread notifications of messages up to `seq` in the conversation become read. */
  async markReadUpTo(tx: DbOrTx, userId: string, conversationId: string, seq: number, at: Date): Promise<string[]> {
    const rows = await tx
      .update(notifications)
      .set({ readAt: at })
      .where(
        and(
          eq(notifications.userId, userId),
          eq(notifications.conversationId, conversationId),
          lte(notifications.seq, seq),
          isNull(notifications.readAt),
        ),
      )
      .returning({ id: notifications.id });
    return rows.map((r) => r.id);
  }

  /** Users who got the notification of the message itself (kinds message/mention/reply/system). */
  async recipientsOf(tx: DbOrTx, messageId: string): Promise<string[]> {
    const rows = await tx
      .selectDistinct({ userId: notifications.userId })
      .from(notifications)
      .where(and(eq(notifications.messageId, messageId), eq(notifications.dedupeKey, MESSAGE_DEDUPE_KEY)));
    return rows.map((r) => r.userId);
  }

  /** Erases every notification of a user (account deletion). */
  async deleteForUser(tx: DbOrTx, userId: string): Promise<number> {
    const rows = await tx
      .delete(notifications)
      .where(eq(notifications.userId, userId))
      .returning({ id: notifications.id });
    return rows.length;
  }

  /** A deleted message's text must not live on in notification bodies. */
  async blankBodiesOf(tx: DbOrTx, messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return;
    await tx.update(notifications).set({ body: sql`''` }).where(inArray(notifications.messageId, messageIds));
  }
}

/** Dedupe key of the one notification a recipient gets for a new message. */
export const MESSAGE_DEDUPE_KEY = 'message';
/** Dedupe key of an edit notification: one per recipient per edit (rev). */
export const editDedupeKey = (rev: number) => `edit:${rev}`;
