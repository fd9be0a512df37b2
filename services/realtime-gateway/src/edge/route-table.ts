/**
 * Every public `/v1` route of API.md, the service that owns it, and the
 * schemas the docs show for it. The gateway proxies exactly these paths
 * (unchanged) and lists exactly these in `/docs/openapi.json`; anything else
 * under `/v1` is a 404 at the edge. The schemas come from `@parley/contracts`
 * (the same ones the services validate with) where the contracts hold them.
 */
import {
  AuthResult,
  AuthTokens,
  Conversation,
  LIMITS,
  Member,
  Message,
  Notification,
  Page,
  PageQuery,
  PublicUser,
  Receipts,
  SendMessageBody,
  User,
  Uuid,
} from '@parley/contracts';
import { type TSchema, Type } from '@sinclair/typebox';
import type { ServiceName } from '../config';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RouteSpec {
  method: HttpMethod;
  /** Fastify path syntax (`:id`), identical to API.md's. */
  path: string;
  service: ServiceName;
  summary: string;
  /** No access token needed (register, login, refresh, jwks). */
  public?: boolean;
  body?: TSchema;
  query?: TSchema;
  /** Success status and body (`null`: no body, e.g. 204). */
  success: { status: number; schema: TSchema | null };
}

const strict = { additionalProperties: false } as const;
const Email = Type.String({ format: 'email', maxLength: 254 });
const Password = Type.String({ minLength: 8, maxLength: 128 });
const Name = Type.String({ minLength: 2, maxLength: 64 });
const MemberRoleIn = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
const MemberStateIn = Type.Union([Type.Literal('active'), Type.Literal('muted'), Type.Literal('banned')]);
const Seq = Type.Object({ seq: Type.Integer({ minimum: 0 }) }, strict);
const ReadResult = Type.Object({ lastReadSeq: Type.Integer(), unreadCount: Type.Integer() });
const withPage = (extra: Record<string, TSchema> = {}) =>
  Type.Object({ ...PageQuery.properties, ...extra }, { additionalProperties: false });
const ConversationCreate = Type.Object(
  {
    type: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
    memberIds: Type.Array(Uuid, { maxItems: LIMITS.maxMembersMax }),
    title: Type.Optional(Type.String({ maxLength: 200 })),
    visibility: Type.Optional(Type.Union([Type.Literal('private'), Type.Literal('public')])),
    maxMembers: Type.Optional(Type.Integer({ minimum: LIMITS.maxMembersMin, maximum: LIMITS.maxMembersMax })),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  strict,
);
const ConversationPatch = Type.Object(
  {
    title: Type.Optional(Type.String({ maxLength: 200 })),
    visibility: Type.Optional(Type.Union([Type.Literal('private'), Type.Literal('public')])),
    maxMembers: Type.Optional(Type.Integer({ minimum: LIMITS.maxMembersMin, maximum: LIMITS.maxMembersMax })),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  strict,
);
const Changes = Type.Object({ items: Type.Array(Message), nextCursor: Type.Union([Type.String(), Type.Null()]) });
const Thread = Type.Object({
  root: Message,
  replies: Type.Array(Type.Composite([Message, Type.Object({ depth: Type.Integer({ minimum: 1 }) })])),
});
const EditHistory = Type.Array(
  Type.Object({ content: Type.String(), editedAt: Type.String({ format: 'date-time' }), editorId: Uuid }),
);

const convPath = '/v1/conversations/:id';

export const ROUTES: readonly RouteSpec[] = [
  // ---- auth ------------------------------------------------------------------
  {
    method: 'POST',
    path: '/v1/auth/register',
    service: 'auth',
    summary: 'Create an account',
    public: true,
    body: Type.Object({ email: Email, password: Password, passwordConfirm: Password, name: Name }, strict),
    success: { status: 201, schema: AuthResult },
  },
  {
    method: 'POST',
    path: '/v1/auth/login',
    service: 'auth',
    summary: 'Log in',
    public: true,
    body: Type.Object({ email: Email, password: Type.String({ minLength: 1, maxLength: 128 }) }, strict),
    success: { status: 200, schema: AuthResult },
  },
  {
    method: 'POST',
    path: '/v1/auth/refresh',
    service: 'auth',
    summary: 'Rotate the refresh token',
    public: true,
    body: Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 512 }) }, strict),
    success: { status: 200, schema: AuthTokens },
  },
  {
    method: 'POST',
    path: '/v1/auth/logout',
    service: 'auth',
    summary: 'End the session (tokens and sockets stop within 1 s)',
    body: Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 512 }) }, strict),
    success: { status: 204, schema: null },
  },
  {
    method: 'GET',
    path: '/v1/auth/jwks.json',
    service: 'auth',
    summary: 'Public keys that sign access tokens',
    public: true,
    success: { status: 200, schema: Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }) },
  },
  {
    method: 'GET',
    path: '/v1/users/me',
    service: 'auth',
    summary: 'The caller',
    success: { status: 200, schema: User },
  },
  {
    method: 'PATCH',
    path: '/v1/users/me',
    service: 'auth',
    summary: 'Update the caller',
    body: Type.Object(
      {
        name: Type.Optional(Name),
        avatarUrl: Type.Optional(Type.Union([Type.String({ format: 'uri', maxLength: 2048 }), Type.Null()])),
        statusText: Type.Optional(Type.Union([Type.String({ maxLength: 140 }), Type.Null()])),
      },
      strict,
    ),
    success: { status: 200, schema: User },
  },
  {
    method: 'DELETE',
    path: '/v1/users/me',
    service: 'auth',
    summary: 'Delete the account',
    body: Type.Object({ password: Type.String({ minLength: 1, maxLength: 128 }) }, strict),
    success: { status: 204, schema: null },
  },
  {
    method: 'GET',
    path: '/v1/users',
    service: 'auth',
    summary: 'Search users by name or email prefix',
    query: withPage({ query: Type.Optional(Type.String({ maxLength: 128 })) }),
    success: { status: 200, schema: Page(PublicUser) },
  },
  {
    method: 'GET',
    path: '/v1/users/:id',
    service: 'auth',
    summary: 'A public user',
    success: { status: 200, schema: PublicUser },
  },
  // ---- conversations ---------------------------------------------------------
  {
    method: 'POST',
    path: '/v1/conversations',
    service: 'conversation',
    summary: 'Create a conversation (an existing direct one is returned with 200)',
    body: ConversationCreate,
    success: { status: 201, schema: Conversation },
  },
  {
    method: 'GET',
    path: '/v1/conversations',
    service: 'conversation',
    summary: "The caller's conversations, most recent activity first",
    query: withPage({ status: Type.Optional(Type.String({ maxLength: 64 })) }),
    success: { status: 200, schema: Page(Conversation) },
  },
  {
    method: 'GET',
    path: '/v1/conversations/public',
    service: 'conversation',
    summary: 'Public open groups',
    query: withPage({ query: Type.Optional(Type.String({ maxLength: 128 })) }),
    success: { status: 200, schema: Page(Conversation) },
  },
  {
    method: 'GET',
    path: convPath,
    service: 'conversation',
    summary: 'A conversation',
    success: { status: 200, schema: Conversation },
  },
  {
    method: 'PATCH',
    path: convPath,
    service: 'conversation',
    summary: 'Update a conversation (owner/admin)',
    body: ConversationPatch,
    success: { status: 200, schema: Conversation },
  },
  ...(['close', 'archive', 'reopen'] as const).map(
    (action): RouteSpec => ({
      method: 'POST',
      path: `${convPath}/${action}`,
      service: 'conversation',
      summary: `${action[0]!.toUpperCase()}${action.slice(1)} a conversation (owner/admin)`,
      success: { status: 200, schema: Conversation },
    }),
  ),
  {
    method: 'POST',
    path: `${convPath}/join`,
    service: 'conversation',
    summary: 'Join a public open group',
    success: { status: 200, schema: Conversation },
  },
  {
    method: 'GET',
    path: `${convPath}/members`,
    service: 'conversation',
    summary: 'Members of a conversation',
    query: withPage(),
    success: { status: 200, schema: Page(Member) },
  },
  {
    method: 'POST',
    path: `${convPath}/members`,
    service: 'conversation',
    summary: 'Add members (owner/admin)',
    body: Type.Object({ userIds: Type.Array(Uuid, { minItems: 1, maxItems: LIMITS.maxMembersMax }) }, strict),
    success: { status: 200, schema: Conversation },
  },
  {
    method: 'PATCH',
    path: `${convPath}/members/me`,
    service: 'conversation',
    summary: "The caller's notification preference",
    body: Type.Object(
      { notifications: Type.Union([Type.Literal('all'), Type.Literal('mentions'), Type.Literal('none')]) },
      strict,
    ),
    success: { status: 200, schema: Member },
  },
  {
    method: 'PATCH',
    path: `${convPath}/members/:userId`,
    service: 'conversation',
    summary: "Change a member's role or state (owner/admin)",
    body: Type.Object({ role: Type.Optional(MemberRoleIn), state: Type.Optional(MemberStateIn) }, strict),
    success: { status: 200, schema: Member },
  },
  {
    method: 'DELETE',
    path: `${convPath}/members/:userId`,
    service: 'conversation',
    summary: 'Remove a member, or leave (own id)',
    success: { status: 204, schema: null },
  },
  // ---- messages --------------------------------------------------------------
  {
    method: 'POST',
    path: `${convPath}/messages`,
    service: 'message',
    summary: 'Send a message (idempotent per clientMessageId)',
    body: SendMessageBody,
    success: { status: 201, schema: Message },
  },
  {
    method: 'GET',
    path: `${convPath}/messages`,
    service: 'message',
    summary: 'Messages by seq (before: newest first; after: oldest first)',
    query: Type.Object(
      {
        before: Type.Optional(Type.Integer({ minimum: 0 })),
        after: Type.Optional(Type.Integer({ minimum: 0 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
      },
      strict,
    ),
    success: { status: 200, schema: Page(Message) },
  },
  {
    method: 'GET',
    path: `${convPath}/changes`,
    service: 'message',
    summary: 'Messages created, edited or deleted after a rev, in rev order',
    query: Type.Object(
      {
        sinceRev: Type.Integer({ minimum: 0 }),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
      },
      strict,
    ),
    success: { status: 200, schema: Changes },
  },
  {
    method: 'POST',
    path: `${convPath}/read`,
    service: 'message',
    summary: 'Mark read up to seq (never moves backwards)',
    body: Seq,
    success: { status: 200, schema: ReadResult },
  },
  {
    method: 'POST',
    path: `${convPath}/delivered`,
    service: 'message',
    summary: 'Mark delivered up to seq (extension; same rules as read)',
    body: Seq,
    success: { status: 200, schema: Type.Object({ lastDeliveredSeq: Type.Integer() }) },
  },
  {
    method: 'GET',
    path: '/v1/messages/unread',
    service: 'message',
    summary: "The caller's unread messages",
    query: withPage({ conversationId: Type.Optional(Uuid) }),
    success: { status: 200, schema: Page(Message) },
  },
  {
    method: 'GET',
    path: '/v1/messages/:id',
    service: 'message',
    summary: 'A message',
    success: { status: 200, schema: Message },
  },
  {
    method: 'PATCH',
    path: '/v1/messages/:id',
    service: 'message',
    summary: 'Edit a message (sender only)',
    body: Type.Object({ content: Type.String({ minLength: 1, maxLength: LIMITS.messageContentChars }) }, strict),
    success: { status: 200, schema: Message },
  },
  {
    method: 'DELETE',
    path: '/v1/messages/:id',
    service: 'message',
    summary: 'Delete a message (sender, or owner/admin)',
    success: { status: 204, schema: null },
  },
  {
    method: 'GET',
    path: '/v1/messages/:id/thread',
    service: 'message',
    summary: 'A thread: root and every reply with its depth',
    query: withPage(),
    success: { status: 200, schema: Thread },
  },
  {
    method: 'GET',
    path: '/v1/messages/:id/receipts',
    service: 'message',
    summary: 'Who a message was delivered to and read by',
    success: { status: 200, schema: Receipts },
  },
  // ---- history -----------------------------------------------------------------
  {
    method: 'GET',
    path: '/v1/messages/:id/history',
    service: 'history',
    summary: 'Edit history of a message, oldest first',
    success: { status: 200, schema: EditHistory },
  },
  {
    method: 'GET',
    path: '/v1/search/messages',
    service: 'history',
    summary: "Full-text search in the caller's conversations",
    query: withPage({ q: Type.String({ minLength: 1, maxLength: 256 }), conversationId: Type.Optional(Uuid) }),
    success: { status: 200, schema: Page(Message) },
  },
  // ---- notifications -----------------------------------------------------------
  {
    method: 'GET',
    path: '/v1/notifications',
    service: 'notification',
    summary: "The caller's notifications, newest first",
    query: withPage({ unread: Type.Optional(Type.Boolean()) }),
    success: { status: 200, schema: Page(Notification) },
  },
  {
    method: 'GET',
    path: '/v1/notifications/unread-count',
    service: 'notification',
    summary: 'Number of unread notifications',
    success: { status: 200, schema: Type.Object({ count: Type.Integer({ minimum: 0 }) }) },
  },
  {
    method: 'POST',
    path: '/v1/notifications/:id/read',
    service: 'notification',
    summary: 'Mark one notification read',
    success: { status: 200, schema: Notification },
  },
  {
    method: 'POST',
    path: '/v1/notifications/read-all',
    service: 'notification',
    summary: 'Mark all (or one conversation’s) notifications read',
    body: Type.Object({ conversationId: Type.Optional(Uuid) }, strict),
    success: { status: 200, schema: Type.Object({ updated: Type.Integer({ minimum: 0 }) }) },
  },
];
