import { type Static, Type } from '@sinclair/typebox';
import { Uuid } from '../api/common';
import { PublicUser } from '../api/user';
import { ConversationFact, MemberFact } from './payloads';

export const JwksRequest = Type.Object({});
export const JwksReply = Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) });
export const UsersRequest = Type.Object({ ids: Type.Array(Uuid, { maxItems: 1000 }) });
export const UsersReply = Type.Object({ users: Type.Array(PublicUser) });
export const MembershipRequest = Type.Object({ conversationId: Uuid, userId: Uuid });
export const MembershipReply = Type.Object({
  conversation: Type.Union([ConversationFact, Type.Null()]),
  member: Type.Union([MemberFact, Type.Null()]),
});
export type MembershipReply = Static<typeof MembershipReply>;
export const MembershipsRequest = Type.Object({ userId: Uuid });
export const MembershipsReply = Type.Object({ conversationIds: Type.Array(Uuid) });
export const MembersRequest = Type.Object({ conversationId: Uuid });
export const MembersReply = Type.Object({
  conversation: Type.Union([ConversationFact, Type.Null()]),
  members: Type.Array(MemberFact),
});
