/**
 * Edit history and the deletion audit, applied from message events in any
 * order and any number of times (the stored `rev` decides what is newer;
 * revisions are keyed by (message, rev)), and read back for members.
 * No Fastify, no SQL.
 */
import type { EventData, PageOf } from '@parley/contracts';
import type { DbOrTx } from '@parley/service-kit';
import { MessageNotFound } from '../errors';
import type { MembershipService } from '../membership/membership.service';
import type { ReadYourWrites } from '../membership/read-your-writes';
import { decodeRevCursor, encodeRevCursor } from './history.cursor';
import type { HistoryRepository } from './history.repository';

export interface RevisionView {
  content: string;
  editedAt: string;
  editorId: string;
}

export class HistoryService {
  constructor(
    private readonly repo: HistoryRepository,
    private readonly membership: MembershipService,
    private readonly readYourWrites: ReadYourWrites,
  ) {}

  // ---- from events -------------------------------------------------------

  async messageCreated(tx: DbOrTx, data: EventData<'message.created'>): Promise<void> {
    const { message } = data;
    const erased = message.senderId ? await this.repo.isUserDeleted(tx, message.senderId) : false;
    await this.repo.applyState(tx, message, message.deletedAt || erased ? '' : message.content);
  }

  /**
   * An edit: the current state moves on if this rev is newer, and the
   * content it replaced becomes a revision, unless the message is deleted
   * (its text must not live on) or its author erased.
   */
  async messageUpdated(tx: DbOrTx, data: EventData<'message.updated'>, occurredAt: Date): Promise<void> {
    const { message } = data;
    const erased =
      (message.senderId ? await this.repo.isUserDeleted(tx, message.senderId) : false) ||
      (await this.repo.isUserDeleted(tx, data.editorId));
    await this.repo.applyState(tx, message, message.deletedAt || erased ? '' : message.content);
    if (erased || message.deletedAt) return;
    // An update that changed something else (e.g. a reply count) is no edit.
    if (data.previousContent === message.content) return;
    const state = await this.repo.getState(tx, message.id);
    if (state?.deletedAt || (await this.repo.getDeletion(tx, message.id))) return;
    await this.repo.insertRevision(tx, {
      messageId: message.id,
      conversationId: message.conversationId,
      rev: message.rev,
      content: data.previousContent,
      editedAt: message.editedAt ? new Date(message.editedAt) : occurredAt,
      editorId: data.editorId,
    });
  }

  /** A deletion: audit who and when (no content), empty the state, drop the revisions' text. */
  async messageDeleted(tx: DbOrTx, data: EventData<'message.deleted'>, occurredAt: Date): Promise<void> {
    const { message } = data;
    const deletedAt = message.deletedAt ? new Date(message.deletedAt) : occurredAt;
    await this.repo.applyState(tx, { ...message, deletedAt: deletedAt.toISOString() }, '');
    await this.repo.recordDeletion(tx, {
      messageId: message.id,
      conversationId: message.conversationId,
      deletedBy: data.deletedBy,
      deletedAt,
      rev: message.rev,
    });
    await this.repo.deleteRevisionsOf(tx, message.id);
  }

  async userDeleted(tx: DbOrTx, data: EventData<'user.deleted'>): Promise<void> {
    await this.repo.eraseUser(tx, data.userId, new Date(data.deletedAt));
    await this.membership.userDeleted(tx, data.userId);
  }

  // ---- from HTTP ---------------------------------------------------------

  /** Revisions oldest first; 404 for a message the caller may not read (or that does not exist). */
  async history(
    userId: string,
    messageId: string,
    page: { limit: number; cursor?: string },
  ): Promise<PageOf<RevisionView>> {
    const afterRev = page.cursor ? decodeRevCursor(page.cursor) : undefined;
    const state = await this.repo.getState(this.repo.db, messageId);
    if (!state || !(await this.membership.canRead(userId, state.conversationId))) throw new MessageNotFound();
    await this.readYourWrites.await(userId, [state.conversationId]);
    const rows = await this.repo.listRevisions(messageId, { afterRev, limit: page.limit + 1 });
    const items = rows.slice(0, page.limit);
    return {
      items: items.map((r) => ({ content: r.content, editedAt: r.editedAt.toISOString(), editorId: r.editorId })),
      nextCursor: rows.length > page.limit ? encodeRevCursor(items[items.length - 1]!.rev) : null,
    };
  }
}
