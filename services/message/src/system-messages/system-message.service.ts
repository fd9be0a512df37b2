/**
 * System messages for conversation lifecycle events (API.md, Conversations):
 * `senderId` null, a readable sentence with user names, the `system` object,
 * a seq and rev like any message (they count as activity), never unread.
 *
 * Exactly once per event: the message stores the id of the event it was
 * written for under a unique index, so a redelivered event (JetStream is
 * at-least-once, its de-duplication window finite) finds it and writes
 * nothing; two deliveries racing collide on the index and one rolls back,
 * its seq and rev with it.
 */
import type { AnyEventEnvelope, Message } from '@parley/contracts';
import { type DatabaseHandle, newId, type Outbox } from '@parley/service-kit';
import type { MessageRepository } from '../messages/message.repository';
import { DELETED_USER_NAME, type UserNames } from '../users/user-names.service';
import { namesNeeded, renderSystemText, systemMessageFor } from './system-text';

export interface SystemMessageDeps {
  db: DatabaseHandle;
  repo: MessageRepository;
  names: UserNames;
  outbox: Outbox;
}

function isUniqueViolation(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '23505') return true;
  }
  return false;
}

export function createSystemMessages(deps: SystemMessageDeps) {
  const { db, repo, outbox } = deps;

  return {
    /** Writes the system message an event calls for (if any, and if not written yet). Returns it. */
    async writeFor(event: AnyEventEnvelope): Promise<Message | null> {
      const draft = systemMessageFor(event);
      if (!draft) return null;
      const existing = await repo.system(db.db, event.id);
      if (existing) return existing;

      const looked = await deps.names.lookup(namesNeeded(draft));
      const names = new Map<string, string>();
      for (const [id, name] of looked) names.set(id, name ?? DELETED_USER_NAME);
      const content = renderSystemText(draft, names);
      try {
        return await outbox.transaction(async (tx, emit) => {
          const m = await repo.insert(tx, {
            id: newId(),
            conversationId: draft.conversationId,
            senderId: null,
            clientMessageId: null,
            type: 'system',
            content,
            attachments: [],
            mentions: [],
            parentId: null,
            threadRootId: null,
            system: draft.system,
            sourceEventId: event.id,
          });
          await emit('message.created', { message: m });
          return m;
        });
      } catch (err) {
        if (isUniqueViolation(err)) return repo.system(db.db, event.id);
        throw err;
      }
    },
  };
}

export type SystemMessages = ReturnType<typeof createSystemMessages>;
