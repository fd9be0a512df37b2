/**
 * Request/reply answers of the conversation service for other services'
 * read models (queue group: replicas share the load). Requests are
 * validated; a malformed one is answered with an error, never a crash.
 */
import { MembersRequest, MembershipRequest, MembershipsRequest, RPC } from '@parley/contracts';
import type { Bus, Db, Subscription } from '@parley/service-kit';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { toConversationFact, toMemberFact } from './conversation.model';
import type { ConversationRepository } from './conversation.repository';

const QUEUE = 'conversation';

function validator<T extends TSchema>(schema: T) {
  const check = TypeCompiler.Compile(schema);
  return (value: unknown) => {
    if (!check.Check(value)) {
      const first = check.Errors(value).First();
      throw new Error(`invalid request: ${first ? `${first.path || '/'} ${first.message}` : 'bad shape'}`);
    }
    return value;
  };
}

export function serveConversationRpc(bus: Bus, db: Db, repo: ConversationRepository): Subscription[] {
  const membership = validator(MembershipRequest);
  const memberships = validator(MembershipsRequest);
  const membersReq = validator(MembersRequest);
  return [
    bus.serve(
      RPC.conversationMembership,
      async (req) => {
        const { conversationId, userId } = membership(req);
        const conv = await repo.findConversation(db, conversationId);
        const member = conv ? await repo.findMember(db, conversationId, userId) : null;
        return {
          conversation: conv ? toConversationFact(conv) : null,
          member: member ? toMemberFact(member) : null,
        };
      },
      { queue: QUEUE },
    ),
    bus.serve(
      RPC.conversationMemberships,
      async (req) => {
        const { userId } = memberships(req);
        return { conversationIds: await repo.conversationIdsOf(db, userId, { present: true }) };
      },
      { queue: QUEUE },
    ),
    bus.serve(
      RPC.conversationMembers,
      async (req) => {
        const { conversationId } = membersReq(req);
        const conv = await repo.findConversation(db, conversationId);
        const members = conv ? await repo.listAllMembers(db, conversationId) : [];
        return { conversation: conv ? toConversationFact(conv) : null, members: members.map(toMemberFact) };
      },
      { queue: QUEUE },
    ),
  ];
}
