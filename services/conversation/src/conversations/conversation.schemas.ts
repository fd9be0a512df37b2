/**
 * Request and response schemas of the conversation routes (API.md,
 * Conversations). Every object is closed (`additionalProperties: false`) and
 * every string capped; response schemas keep internal columns from leaking.
 */
import {
  Conversation,
  LIMITS,
  Member,
  MemberRole,
  MemberState,
  NotificationPreference,
  Page,
  PageQuery,
  Uuid,
  Visibility,
} from '@parley/contracts';
import { type Static, Type } from '@sinclair/typebox';

export const TITLE_MAX = 200;
export const METADATA_MAX_BYTES = LIMITS.metadataBytes;

const Title = Type.String({ minLength: 1, maxLength: TITLE_MAX });
const MaxMembers = Type.Integer({ minimum: LIMITS.maxMembersMin, maximum: LIMITS.maxMembersMax });
/** Free JSON object; its serialized size is checked by the service (4 KiB). */
const MetadataInput = Type.Object({}, { additionalProperties: true, maxProperties: 200 });

export const CreateConversationBody = Type.Object(
  {
    type: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
    memberIds: Type.Array(Uuid, { maxItems: LIMITS.maxMembersMax, uniqueItems: true }),
    title: Type.Optional(Title),
    visibility: Type.Optional(Visibility),
    maxMembers: Type.Optional(MaxMembers),
    metadata: Type.Optional(MetadataInput),
  },
  { additionalProperties: false },
);
export type CreateConversationBody = Static<typeof CreateConversationBody>;

export const UpdateConversationBody = Type.Object(
  {
    title: Type.Optional(Title),
    visibility: Type.Optional(Visibility),
    maxMembers: Type.Optional(MaxMembers),
    metadata: Type.Optional(MetadataInput),
  },
  { additionalProperties: false },
);
export type UpdateConversationBody = Static<typeof UpdateConversationBody>;

export const ListConversationsQuery = Type.Object(
  {
    status: Type.Optional(
      Type.String({
        maxLength: 64,
        pattern: '^(open|closed|archived)(,(open|closed|archived))*$',
        description: 'comma-separated statuses; default open,closed',
      }),
    ),
    limit: PageQuery.properties.limit,
    cursor: PageQuery.properties.cursor,
  },
  { additionalProperties: false },
);
export type ListConversationsQuery = Static<typeof ListConversationsQuery>;

export const PublicConversationsQuery = Type.Object(
  {
    query: Type.Optional(Type.String({ maxLength: 100 })),
    limit: PageQuery.properties.limit,
    cursor: PageQuery.properties.cursor,
  },
  { additionalProperties: false },
);
export type PublicConversationsQuery = Static<typeof PublicConversationsQuery>;

export const ConversationParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export const MemberParams = Type.Object({ id: Uuid, userId: Uuid }, { additionalProperties: false });

export const AddMembersBody = Type.Object(
  { userIds: Type.Array(Uuid, { minItems: 1, maxItems: LIMITS.maxMembersMax, uniqueItems: true }) },
  { additionalProperties: false },
);
export type AddMembersBody = Static<typeof AddMembersBody>;

export const UpdateMemberBody = Type.Object(
  { role: Type.Optional(MemberRole), state: Type.Optional(MemberState) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateMemberBody = Static<typeof UpdateMemberBody>;

export const UpdateMyMembershipBody = Type.Object(
  { notifications: NotificationPreference },
  { additionalProperties: false },
);
export type UpdateMyMembershipBody = Static<typeof UpdateMyMembershipBody>;

export const ConversationResponse = Conversation;
export const ConversationPage = Page(Conversation);
export const MemberResponse = Member;
export const MemberPage = Page(Member);
/** `POST /members`: the requested users as members after the call. */
export const AddMembersResponse = Type.Object({ items: Type.Array(Member) });
