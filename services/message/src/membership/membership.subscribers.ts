/**
 * Consumers of the conversation stream.
 *
 * - `message-conversations` / `message-members`: the local membership model.
 *   One consumer per domain (filter `<domain>.*.*`), so the facts of one
 *   domain are applied in stream order; facts of the two domains are ordered
 *   by their version (conversation `updatedAt`, member event `occurredAt`).
 *   Idempotent through the kit's processed_events and the versioned upserts.
 * - `message-conversation-system` / `message-member-system`: system messages,
 *   in separate consumers so that writing them (name look-ups) never delays
 *   a revocation reaching the model. Idempotent by their source event id.
 */
import type { AnyEventEnvelope, EventDomain } from '@parley/contracts';
import type { Consumers, DbOrTx } from '@parley/service-kit';
import type { MembershipRepository } from './membership.repository';
import { conversationInput, toMemberModel } from './membership.service';
import type { SystemMessages } from '../system-messages/system-message.service';

/** Every event of one domain (`member.*.*`): one filter, as nats-server 2.9 allows. */
export const domainFilter = (domain: EventDomain) => `${domain}.*.*`;

export const DURABLES = {
  conversations: 'message-conversations',
  members: 'message-members',
  conversationSystem: 'message-conversation-system',
  memberSystem: 'message-member-system',
} as const;

/** Applies one conversation-stream fact to the model. */
export async function applyMembershipEvent(
  repo: MembershipRepository,
  tx: DbOrTx,
  event: AnyEventEnvelope,
): Promise<void> {
  const at = new Date(event.occurredAt);
  switch (event.type) {
    case 'conversation.created': {
      await repo.upsertConversation(tx, conversationInput(event.data.conversation));
      for (const m of event.data.members) await repo.upsertMember(tx, event.data.conversation.id, toMemberModel(m), at);
      return;
    }
    case 'conversation.updated':
      await repo.upsertConversation(tx, conversationInput(event.data.conversation));
      return;
    case 'conversation.deleted':
      await repo.deleteConversation(tx, event.data.conversationId);
      return;
    case 'member.added':
      await repo.upsertConversation(tx, conversationInput(event.data.conversation));
      await repo.upsertMember(tx, event.data.conversationId, toMemberModel(event.data.member), at);
      return;
    case 'member.updated':
      await repo.upsertMember(tx, event.data.conversationId, toMemberModel(event.data.member), at);
      return;
    case 'member.removed':
      await repo.upsertMember(
        tx,
        event.data.conversationId,
        { userId: event.data.userId, role: 'member', state: 'removed' },
        at,
      );
      return;
    default:
      return;
  }
}

export async function startMembershipSubscribers(
  consumers: Consumers,
  repo: MembershipRepository,
  systemMessages: SystemMessages,
): Promise<void> {
  await consumers.on(
    { stream: 'conversation', durable: DURABLES.conversations, filter: domainFilter('conversation') },
    (event, tx) => applyMembershipEvent(repo, tx, event),
  );
  await consumers.on(
    { stream: 'conversation', durable: DURABLES.members, filter: domainFilter('member') },
    (event, tx) => applyMembershipEvent(repo, tx, event),
  );
  await consumers.onEvent(
    { stream: 'conversation', durable: DURABLES.conversationSystem, filter: domainFilter('conversation') },
    async (event) => {
      await systemMessages.writeFor(event);
    },
  );
  await consumers.onEvent(
    { stream: 'conversation', durable: DURABLES.memberSystem, filter: domainFilter('member') },
    async (event) => {
      await systemMessages.writeFor(event);
    },
  );
}
