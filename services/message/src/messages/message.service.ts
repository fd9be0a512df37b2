/**
 * The behaviour of messages: send (idempotent per sender and clientMessageId),
 * list, catch-up by rev, get, edit, delete, threads. No Fastify, no SQL.
 *
 * Send path in the steady state: one short transaction (BEGIN, membership
 * check + counter + insert in one statement, the outbox row, COMMIT), then
 * the read-your-writes watermark in KV; the relay publishes right after
 * COMMIT. Replies and content with an `@` read the membership first (the
 * reply's parent and the mentions need it), then add one statement each
 * (ancestor reply counts; the member names).
 */
import type { Attachment, Message, SendMessageBody } from '@parley/contracts';
import {
  ApiError,
  conflict,
  type DatabaseHandle,
  type KeyValue,
  newId,
  type Outbox,
  rateLimited,
  validationFailed,
} from '@parley/service-kit';
import type { Logger } from 'pino';
import { ClientMessageIdReused, MessageDeleted, MessageNotFound, NotTheSender } from '../errors';
import type { MembershipRepository } from '../membership/membership.repository';
import type { MembershipService } from '../membership/membership.service';
import type { Access } from '../membership/membership.policy';
import type { SendRateLimiter } from '../rate-limit/send-rate-limiter';
import type { UserNames } from '../users/user-names.service';
import { decodeCursor, encodeCursor, isListCursor, isPathCursor, isRevCursor } from './cursor';
import { mayContainMentions, parseMentions } from './mentions';
import { contentProblems, editProblems } from './message.rules';
import { isDuplicateClientMessageId, type MessageRepository, type NewMessage } from './message.repository';

export interface MessageServiceDeps {
  db: DatabaseHandle;
  repo: MessageRepository;
  membershipRepo: MembershipRepository;
  membership: MembershipService;
  names: UserNames;
  outbox: Outbox;
  limiter: SendRateLimiter;
  kv: KeyValue;
  readYourWritesTtlMs: number;
  logger: Logger;
}

export interface PageOf<T> {
  items: T[];
  nextCursor: string | null;
}

export const DEFAULT_PAGE = 50;

/** Key of the caller's latest change per conversation (read by services whose models are fed by events). */
export const readYourWritesKey = (userId: string, conversationId: string) => `rw:${userId}:${conversationId}`;

class NothingToDo extends Error {}
/** The membership model does not allow the send: roll back, ask `authorize`. */
class NotAllowedLocally extends Error {}

export function createMessageService(deps: MessageServiceDeps) {
  const { db, repo, membership, outbox } = deps;
  const log = deps.logger.child({ component: 'messages' });

  /** Records the caller's latest change after COMMIT; best effort (a KV outage only delays other views). */
  async function markWrite(userId: string, conversationId: string, mark: Record<string, number>): Promise<void> {
    try {
      await deps.kv.set(readYourWritesKey(userId, conversationId), JSON.stringify(mark), {
        ttlMs: deps.readYourWritesTtlMs,
      });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'read-your-writes watermark not recorded');
    }
  }

  async function mentionsOf(
    content: string,
    conversationId: string,
    senderId: string,
    access: Access,
  ): Promise<string[]> {
    if (!mayContainMentions(content)) return [];
    const present = await deps.membershipRepo.presentMembersWithNames(db.db, conversationId);
    const unnamed = present.filter((m) => m.name === null).map((m) => m.userId);
    const looked = unnamed.length ? await deps.names.lookup(unnamed) : new Map<string, string | null>();
    const candidates = present
      .map((m) => ({ userId: m.userId, name: m.name ?? looked.get(m.userId) ?? '' }))
      .filter((m) => m.name !== '');
    return parseMentions(content, candidates, { senderId, allowAll: access.conversation?.type === 'group' });
  }

  /** A message the caller may read, or 404 (also for messages of private conversations they are not in). */
  async function readable(userId: string, id: string): Promise<{ message: Message; access: Access }> {
    const message = await repo.findById(db.db, id);
    if (!message) throw new MessageNotFound();
    try {
      const access = await membership.authorize(message.conversationId, userId, 'read');
      return { message, access };
    } catch (err) {
      if (err instanceof ApiError && err.code === 'not_found') throw new MessageNotFound();
      throw err;
    }
  }

  return {
    async send(
      userId: string,
      conversationId: string,
      body: SendMessageBody,
    ): Promise<{ message: Message; created: boolean }> {
      const type = body.type ?? 'text';
      const attachments: Attachment[] = body.attachments ?? [];
      const problems = contentProblems(type, body.content, attachments);
      if (problems.length) throw validationFailed(problems);

      // Plain messages (no reply, no `@`) need nothing from the membership
      // model but the yes: the insert itself checks it (one statement fewer);
      // on its no, `authorize` below decides as before (owner asked, error).
      const plain = !body.parentId && !mayContainMentions(body.content);
      const access = plain ? null : await membership.authorize(conversationId, userId, 'send');

      let parentId: string | null = null;
      let threadRootId: string | null = null;
      if (body.parentId) {
        const parent = await repo.findParent(db.db, body.parentId);
        if (!parent || parent.conversationId !== conversationId) {
          throw validationFailed([
            { field: 'parentId', code: 'invalid_value', message: 'must be a message of this conversation' },
          ]);
        }
        parentId = parent.id;
        threadRootId = parent.threadRootId ?? parent.id;
      }
      const mentions = access ? await mentionsOf(body.content, conversationId, userId, access) : [];

      const replay = async (): Promise<{ message: Message; created: boolean }> => {
        const stored = await repo.findByClientMessageId(db.db, userId, body.clientMessageId);
        if (!stored) throw conflict('clientMessageId could not be resolved, retry');
        if (stored.conversationId !== conversationId) throw new ClientMessageIdReused();
        return { message: stored, created: false };
      };

      const rate = await deps.limiter.take(userId);
      if (!rate.allowed) {
        // A refusal of the conversation comes first, as when it is checked first.
        if (!access) await membership.authorize(conversationId, userId, 'send');
        // A retry of a stored send is answered whatever the rate.
        const stored = await repo.findByClientMessageId(db.db, userId, body.clientMessageId);
        if (stored?.conversationId === conversationId) return { message: stored, created: false };
        throw rateLimited(rate.retryAfterMs / 1000, 'too many messages, slow down');
      }

      const store = (gated: boolean) =>
        outbox.transaction(async (tx, emit) => {
          const m: NewMessage & { senderId: string } = {
            id: newId(),
            conversationId,
            senderId: userId,
            clientMessageId: body.clientMessageId,
            type,
            content: body.content,
            attachments,
            mentions,
            parentId,
            threadRootId,
            system: null,
            sourceEventId: null,
          };
          const stored = gated ? await repo.insertIfSenderMaySend(tx, m) : await repo.insert(tx, m);
          if (!stored) throw new NotAllowedLocally();
          if (parentId) await repo.bumpAncestors(tx, parentId);
          await emit('message.created', { message: stored });
          return stored;
        });

      let message: Message;
      try {
        try {
          message = await store(plain);
        } catch (err) {
          if (!(err instanceof NotAllowedLocally)) throw err;
          // The model said no (nothing was written): the owner decides.
          try {
            await membership.authorize(conversationId, userId, 'send');
          } catch (refused) {
            await deps.limiter.refund(userId);
            throw refused;
          }
          message = await store(false);
        }
      } catch (err) {
        // A concurrent or earlier send with this clientMessageId won; this
        // transaction, its seq and rev included, rolled back.
        if (!isDuplicateClientMessageId(err)) throw err;
        await deps.limiter.refund(userId);
        return replay();
      }
      await markWrite(userId, conversationId, { rev: message.rev, seq: message.seq });
      return { message, created: true };
    },

    async list(
      userId: string,
      conversationId: string,
      q: { before?: number; after?: number; limit?: number; cursor?: string },
    ): Promise<PageOf<Message>> {
      if (q.before !== undefined && q.after !== undefined) {
        throw validationFailed([
          { field: 'after', code: 'invalid_value', message: 'give either before or after, not both' },
        ]);
      }
      await membership.authorize(conversationId, userId, 'read');
      const limit = q.limit ?? DEFAULT_PAGE;
      const cursor = decodeCursor(q.cursor, isListCursor);
      const direction = cursor?.d ?? (q.after !== undefined ? 'after' : 'before');
      const from = cursor?.s ?? (direction === 'after' ? (q.after ?? 0) : (q.before ?? null));
      const rows =
        direction === 'after'
          ? await repo.listAfter(db.db, conversationId, from ?? 0, limit + 1)
          : await repo.listBefore(db.db, conversationId, from, limit + 1);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return {
        items,
        nextCursor: rows.length > limit && last ? encodeCursor({ d: direction, s: last.seq }) : null,
      };
    },

    async changes(
      userId: string,
      conversationId: string,
      q: { sinceRev: number; limit?: number; cursor?: string },
    ): Promise<PageOf<Message>> {
      await membership.authorize(conversationId, userId, 'read');
      const limit = q.limit ?? 200;
      const cursor = decodeCursor(q.cursor, isRevCursor);
      const since = Math.max(q.sinceRev, cursor?.r ?? 0);
      const rows = await repo.changesSince(db.db, conversationId, since, limit + 1);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor({ r: last.rev }) : null };
    },

    async get(userId: string, id: string): Promise<Message> {
      return (await readable(userId, id)).message;
    },

    async edit(userId: string, id: string, content: string): Promise<Message> {
      const { message } = await readable(userId, id);
      if (message.senderId !== userId) throw new NotTheSender();
      if (message.deletedAt) throw new MessageDeleted();
      const problems = editProblems(message.type, content);
      if (problems.length) throw validationFailed(problems);
      const access = await membership.authorize(message.conversationId, userId, 'send');
      const mentions = await mentionsOf(content, message.conversationId, userId, access);

      const edited = await outbox.transaction(async (tx, emit) => {
        const rev = await repo.nextRev(tx, message.conversationId);
        const result = await repo.edit(tx, id, rev, content, mentions);
        // Deleted meanwhile: the transaction rolls back with its rev.
        if (!result) throw new MessageDeleted();
        await emit('message.updated', {
          message: result.message,
          previousContent: result.previousContent,
          editorId: userId,
        });
        return result.message;
      });
      await markWrite(userId, edited.conversationId, { rev: edited.rev });
      return edited;
    },

    async remove(userId: string, id: string): Promise<void> {
      const { message } = await readable(userId, id);
      if (message.deletedAt) return;
      await membership.authorize(
        message.conversationId,
        userId,
        message.senderId === userId ? 'delete-own' : 'moderate',
      );
      let deleted: Message;
      try {
        deleted = await outbox.transaction(async (tx, emit) => {
          const rev = await repo.nextRev(tx, message.conversationId);
          const m = await repo.tombstone(tx, id, rev);
          if (!m) throw new NothingToDo(); // deleted meanwhile: roll the rev back
          await emit('message.deleted', { message: m, deletedBy: userId });
          return m;
        });
      } catch (err) {
        if (err instanceof NothingToDo) return;
        throw err;
      }
      await markWrite(userId, deleted.conversationId, { rev: deleted.rev });
    },

    async thread(
      userId: string,
      id: string,
      q: { limit?: number; cursor?: string },
    ): Promise<{ root: Message; replies: (Message & { depth: number })[]; nextCursor: string | null }> {
      const { message: root } = await readable(userId, id);
      const limit = q.limit ?? DEFAULT_PAGE;
      const cursor = decodeCursor(q.cursor, isPathCursor);
      const rows = await repo.thread(db.db, root.id, cursor?.p ?? null, limit + 1);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        root,
        replies: page.map((r) => ({ ...r.message, depth: r.depth })),
        nextCursor: rows.length > limit && last ? encodeCursor({ p: last.path }) : null,
      };
    },

    /** For the receipts route: the message if readable. */
    readable,
    markWrite,
  };
}

export type MessageService = ReturnType<typeof createMessageService>;
