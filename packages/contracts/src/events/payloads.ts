import { type Static, Type } from '@sinclair/typebox';
import { Timestamp, Uuid } from '../api/common';
import {
  ConversationStatus,
  ConversationType,
  Metadata,
  MemberRole,
  MemberState,
  NotificationPreference,
  Visibility,
} from '../api/conversation';
import { Message } from '../api/message';
import { Notification } from '../api/notification';
import { PublicUser } from '../api/user';

// ---- auth -----------------------------------------------------------------
export const UserCreated = Type.Object({ user: PublicUser });
export const UserUpdated = Type.Object({ user: PublicUser });
export const UserDeleted = Type.Object({ userId: Uuid, deletedAt: Timestamp });
export const SessionRevoked = Type.Object({
  sessionId: Uuid,
  userId: Uuid,
  reason: Type.Union([Type.Literal('logout'), Type.Literal('refresh_reuse'), Type.Literal('account_deleted')]),
  revokedAt: Timestamp,
});

// ---- conversation ---------------------------------------------------------
/** A conversation as its owner stores it (no per-caller or message-derived fields). */
export const ConversationFact = Type.Object({
  id: Uuid,
  type: ConversationType,
  title: Type.Union([Type.String(), Type.Null()]),
  visibility: Visibility,
  status: ConversationStatus,
  maxMembers: Type.Integer(),
  memberCount: Type.Integer(),
  metadata: Metadata,
  createdBy: Uuid,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type ConversationFact = Static<typeof ConversationFact>;

export const MemberFact = Type.Object({
  userId: Uuid,
  role: MemberRole,
  state: MemberState,
  notifications: NotificationPreference,
  joinedAt: Timestamp,
});
export type MemberFact = Static<typeof MemberFact>;

export const ConversationCreated = Type.Object({
  conversation: ConversationFact,
  members: Type.Array(MemberFact),
  actorId: Uuid,
});
export const ConversationChange = Type.Union([
  Type.Literal('updated'),
  Type.Literal('closed'),
  Type.Literal('archived'),
  Type.Literal('reopened'),
]);
export const ConversationUpdated = Type.Object({
  conversation: ConversationFact,
  change: ConversationChange,
  /** Fields changed by a PATCH (`title`, `visibility`, `maxMembers`, `metadata`) or `status`. */
  changedFields: Type.Array(Type.String()),
  previous: Type.Object({ title: Type.Union([Type.String(), Type.Null()]), status: ConversationStatus }),
  actorId: Type.Union([Uuid, Type.Null()]),
});
export const ConversationDeleted = Type.Object({
  conversationId: Uuid,
  actorId: Type.Union([Uuid, Type.Null()]),
  reason: Type.Union([Type.Literal('empty'), Type.Literal('deleted')]),
});
export const MemberAdded = Type.Object({
  conversationId: Uuid,
  conversation: ConversationFact,
  member: MemberFact,
  actorId: Uuid,
  via: Type.Union([Type.Literal('added'), Type.Literal('joined')]),
});
export const MemberUpdated = Type.Object({
  conversationId: Uuid,
  member: MemberFact,
  previous: Type.Object({ role: MemberRole, state: MemberState, notifications: NotificationPreference }),
  actorId: Uuid,
});
export const MemberRemoved = Type.Object({
  conversationId: Uuid,
  userId: Uuid,
  actorId: Type.Union([Uuid, Type.Null()]),
  reason: Type.Union([Type.Literal('left'), Type.Literal('removed'), Type.Literal('account_deleted')]),
});

// ---- message --------------------------------------------------------------
export const MessageCreated = Type.Object({ message: Message });
export const MessageUpdated = Type.Object({
  message: Message,
  previousContent: Type.String(),
  editorId: Uuid,
});
export const MessageDeleted = Type.Object({
  message: Message,
  deletedBy: Type.Union([Uuid, Type.Null()]),
});
export const ReceiptMarked = Type.Object({
  conversationId: Uuid,
  userId: Uuid,
  seq: Type.Integer({ minimum: 0 }),
  at: Timestamp,
});

// ---- notification ---------------------------------------------------------
export const NotificationCreated = Type.Object({ notification: Notification });
export const NotificationRead = Type.Object({
  userId: Uuid,
  notificationIds: Type.Array(Uuid),
  at: Timestamp,
});
