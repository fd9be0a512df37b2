/**
 * Consumer of the auth stream (`message-users`, filter `user.*.*`, in stream
 * order): user names for mentions and system messages, and account deletion.
 *
 * user.deleted: every message of the user becomes a tombstone (content,
 * attachments and mentions emptied, `deletedAt` set, `senderId` kept), each
 * with its conversation's next rev and a `message.deleted` event; the user's
 * read/delivery markers are dropped and their memberships end in the model.
 * It is done in batches, each its own transaction, and is idempotent: a
 * redelivery (or a crash half way) finds only what is left to do.
 */
import type { AnyEventEnvelope } from '@parley/contracts';
import type { Consumers, DatabaseHandle, Outbox } from '@parley/service-kit';
import type { MessageRepository } from '../messages/message.repository';
import type { MembershipRepository } from '../membership/membership.repository';
import { domainFilter } from '../membership/membership.subscribers';
import type { ReceiptRepository } from '../receipts/receipt.repository';

export const USERS_DURABLE = 'message-users';
const BATCH = 200;

export interface UserEventDeps {
  db: DatabaseHandle;
  membershipRepo: MembershipRepository;
  messages: MessageRepository;
  receipts: ReceiptRepository;
  outbox: Outbox;
}

export function createUserEventHandler(deps: UserEventDeps) {
  const { db, membershipRepo, messages, receipts, outbox } = deps;

  async function tombstoneAll(userId: string, working: () => void): Promise<number> {
    const live = await messages.liveMessagesOf(db.db, userId);
    const byConversation = new Map<string, string[]>();
    for (const m of live) {
      const list = byConversation.get(m.conversationId);
      if (list) list.push(m.id);
      else byConversation.set(m.conversationId, [m.id]);
    }
    let done = 0;
    for (const [conversationId, ids] of byConversation) {
      for (let i = 0; i < ids.length; i += BATCH) {
        const batch = ids.slice(i, i + BATCH);
        done += await outbox.transaction(async (tx, emit) => {
          let n = 0;
          for (const id of batch) {
            const rev = await messages.nextRev(tx, conversationId);
            const m = await messages.tombstone(tx, id, rev);
            if (!m) throw new Error(`message ${id} changed during account deletion; retrying`);
            await emit('message.deleted', { message: m, deletedBy: null });
            n++;
          }
          return n;
        });
        working();
      }
    }
    return done;
  }

  return {
    async handle(event: AnyEventEnvelope, working: () => void = () => {}): Promise<void> {
      switch (event.type) {
        case 'user.created':
        case 'user.updated':
          await membershipRepo.upsertUserName(db.db, event.data.user.id, event.data.user.name);
          return;
        case 'user.deleted': {
          const at = new Date(event.data.deletedAt);
          await db.db.transaction(async (tx) => {
            await membershipRepo.markUserDeleted(tx, event.data.userId, at);
            await membershipRepo.removeUserEverywhere(tx, event.data.userId, at);
            await receipts.dropMarkersOf(tx, event.data.userId);
          });
          await tombstoneAll(event.data.userId, working);
          return;
        }
        default:
          return;
      }
    },
    tombstoneAll,
  };
}

export async function startUserSubscribers(
  consumers: Consumers,
  handler: ReturnType<typeof createUserEventHandler>,
): Promise<void> {
  await consumers.onEvent({ stream: 'auth', durable: USERS_DURABLE, filter: domainFilter('user') }, (event, delivery) =>
    handler.handle(event, () => delivery.working()),
  );
}
