/**
 * The behaviour of notifications: creating them from message facts,
 * marking them read, listing them. No Fastify, no SQL.
 *
 * Event-driven writes run inside the consumer's transaction (the one that
 * also records the event as processed), and announce what they created
 * through the outbox in that same transaction: a notification exists and is
 * announced, or neither.
 */
import type { EventData, Message, Notification, PageOf } from '@parley/contracts';
import { type DbOrTx, newId, type Outbox } from '@parley/service-kit';
import { NotificationNotFound } from '../errors';
import type { ReadModelRepository } from '../read-model/read-model.repository';
import type { ReadModelService } from '../read-model/read-model.service';
import { decodeCursor, encodeCursor } from './notification.cursor';
import {
  editDedupeKey,
  MESSAGE_DEDUPE_KEY,
  type NewNotification,
  type NotificationRepository,
} from './notification.repository';
import { canBeNotified, notificationText, planRecipients, shouldNotifyEdit } from './notification.rules';
import type { ReadYourWrites } from './read-your-writes';

export interface NotificationServiceOptions {
  editNotifyIntervalMs: number;
  bodyPreviewChars: number;
}

/** notification.read events list at most this many ids each. */
const READ_EVENT_CHUNK = 500;

export class NotificationService {
  constructor(
    private readonly repo: NotificationRepository,
    private readonly readModelRepo: ReadModelRepository,
    private readonly readModel: ReadModelService,
    private readonly outbox: Pick<Outbox, 'add' | 'addMany' | 'transaction'>,
    private readonly readYourWrites: ReadYourWrites,
    private readonly opts: NotificationServiceOptions,
  ) {}

  // ---- from events -------------------------------------------------------

  /** message.created: one notification per recipient (bulk insert), each announced. */
  async notifyNewMessage(tx: DbOrTx, message: Message): Promise<Notification[]> {
    await this.readModelRepo.insertMessage(tx, {
      id: message.id,
      conversationId: message.conversationId,
      seq: message.seq,
      senderId: message.senderId,
    });
    if (message.deletedAt) return [];

    const ctx = await this.readModel.membersOf(tx, message.conversationId, {
      activeMember: message.senderId,
      known: [...message.mentions, ...(message.system?.targetIds ?? [])],
    });
    if (!ctx) return [];
    const parent = message.parentId ? await this.readModelRepo.getMessage(tx, message.parentId) : null;
    const recipients = planRecipients(
      { message, conversationType: ctx.conversation.type, parentSenderId: parent?.senderId ?? null },
      ctx.members,
    );
    if (recipients.length === 0) return [];

    const names = message.senderId ? await this.readModel.namesOf(tx, [message.senderId]) : new Map();
    const senderName = message.senderId ? (names.get(message.senderId) ?? null) : null;
    const now = new Date();
    const rows: NewNotification[] = recipients.map((r) => ({
      id: newId(),
      userId: r.userId,
      kind: r.kind,
      dedupeKey: MESSAGE_DEDUPE_KEY,
      conversationId: message.conversationId,
      messageId: message.id,
      seq: message.seq,
      createdAt: now,
      ...notificationText({
        kind: r.kind,
        senderName,
        conversationType: ctx.conversation.type,
        conversationTitle: ctx.conversation.title,
        message,
        previewChars: this.opts.bodyPreviewChars,
      }),
    }));
    return this.insertAndAnnounce(tx, rows);
  }

  /**
   * message.updated: an `edit` notification to the members notified of the
   * original who can still be notified, at most once per message per
   * interval (measured on the edits' own times, so replays decide alike).
   */
  async notifyEdit(tx: DbOrTx, data: EventData<'message.updated'>, occurredAt: Date): Promise<Notification[]> {
    const { message } = data;
    if (message.deletedAt || message.type === 'system') return [];
    const known = await this.readModelRepo.getMessage(tx, message.id);
    if (!known) return []; // never notified of it, so nobody to tell about the edit
    const editedAt = message.editedAt ? new Date(message.editedAt) : occurredAt;
    if (!shouldNotifyEdit(known.lastEditNotifiedAt, editedAt, this.opts.editNotifyIntervalMs)) return [];

    const notified = new Set(await this.repo.recipientsOf(tx, message.id));
    notified.delete(data.editorId);
    if (notified.size === 0) return [];
    const ctx = await this.readModel.membersOf(tx, message.conversationId);
    if (!ctx) return [];
    const recipients = ctx.members.filter((m) => notified.has(m.userId) && canBeNotified(m) && m.preference !== 'none');
    if (recipients.length === 0) return [];
    // Compare-and-set: of two replicas handling edits of this message at once, one notifies.
    if (!(await this.readModelRepo.setLastEditNotified(tx, message.id, known.lastEditNotifiedAt, editedAt))) return [];

    const names = await this.readModel.namesOf(tx, [data.editorId]);
    const now = new Date();
    const text = notificationText({
      kind: 'edit',
      senderName: names.get(data.editorId) ?? null,
      conversationType: ctx.conversation.type,
      conversationTitle: ctx.conversation.title,
      message,
      previewChars: this.opts.bodyPreviewChars,
    });
    const rows: NewNotification[] = recipients.map((m) => ({
      id: newId(),
      userId: m.userId,
      kind: 'edit',
      dedupeKey: editDedupeKey(message.rev),
      conversationId: message.conversationId,
      messageId: message.id,
      seq: message.seq,
      createdAt: now,
      ...text,
    }));
    return this.insertAndAnnounce(tx, rows);
  }

  /** receipt.read: the member's notifications of messages up to `seq` become read. */
  async applyReadReceipt(tx: DbOrTx, data: EventData<'receipt.read'>): Promise<number> {
    const at = new Date(data.at);
    await this.readModelRepo.advanceReadMark(tx, data.userId, data.conversationId, data.seq);
    const ids = await this.repo.markReadUpTo(tx, data.userId, data.conversationId, data.seq, at);
    await this.announceRead(tx, data.userId, ids, at);
    return ids.length;
  }

  /** message.deleted: the deleted text must not live on in notification bodies. */
  async forgetMessageContent(tx: DbOrTx, messageId: string): Promise<void> {
    await this.repo.blankBodiesOf(tx, [messageId]);
  }

  /** user.deleted: erase their notifications and drop them from the read model. */
  async eraseUser(tx: DbOrTx, userId: string, at: Date): Promise<void> {
    await this.repo.deleteForUser(tx, userId);
    await this.readModel.userDeleted(tx, userId, at);
  }

  private async insertAndAnnounce(tx: DbOrTx, rows: NewNotification[]): Promise<Notification[]> {
    const inserted = await this.repo.insertMany(tx, rows);
    // One outbox row per recipient (each goes to its own user subject), all
    // written by one multi-row INSERT: 999 recipients cost one statement, not 999.
    await this.outbox.addMany(
      tx,
      inserted.map((notification) => ({ type: 'notification.created' as const, data: { notification } })),
    );
    return inserted;
  }

  private async announceRead(tx: DbOrTx, userId: string, ids: string[], at: Date): Promise<void> {
    for (let i = 0; i < ids.length; i += READ_EVENT_CHUNK) {
      await this.outbox.add(tx, 'notification.read', {
        userId,
        notificationIds: ids.slice(i, i + READ_EVENT_CHUNK),
        at: at.toISOString(),
      });
    }
  }

  // ---- from HTTP ---------------------------------------------------------

  async list(userId: string, q: { unread?: boolean; limit: number; cursor?: string }): Promise<PageOf<Notification>> {
    const beforeId = q.cursor ? decodeCursor(q.cursor) : undefined;
    await this.readYourWrites.await(userId);
    const rows = await this.repo.listForUser(userId, {
      unreadOnly: q.unread === true,
      limit: q.limit + 1,
      beforeId,
    });
    const items = rows.slice(0, q.limit);
    const nextCursor = rows.length > q.limit ? encodeCursor(items[items.length - 1]!.id) : null;
    return { items, nextCursor };
  }

  async unreadCount(userId: string): Promise<number> {
    await this.readYourWrites.await(userId);
    return this.repo.countUnread(userId);
  }

  /** Marks one of the caller's notifications read (idempotent); 404 for anyone else's. */
  async markRead(userId: string, id: string): Promise<Notification> {
    return this.outbox.transaction(async (tx) => {
      const at = new Date();
      const changed = await this.repo.markOneRead(tx, userId, id, at);
      if (changed) {
        await this.announceRead(tx, userId, [changed.id], at);
        return changed;
      }
      const existing = await this.repo.findForUser(tx, userId, id);
      if (!existing) throw new NotificationNotFound();
      return existing;
    });
  }

  async markAllRead(userId: string, conversationId?: string): Promise<{ updated: number }> {
    return this.outbox.transaction(async (tx) => {
      const at = new Date();
      const ids = await this.repo.markAllRead(tx, userId, at, conversationId);
      await this.announceRead(tx, userId, ids, at);
      return { updated: ids.length };
    });
  }
}
