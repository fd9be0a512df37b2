import { type Static, Type } from '@sinclair/typebox';
import { NullableTimestamp, Timestamp, Uuid } from './common';

export const ConversationType = Type.Union([Type.Literal('direct'), Type.Literal('group')]);
export type ConversationType = Static<typeof ConversationType>;
export const Visibility = Type.Union([Type.Literal('private'), Type.Literal('public')]);
export type Visibility = Static<typeof Visibility>;
export const ConversationStatus = Type.Union([Type.Literal('open'), Type.Literal('closed'), Type.Literal('archived')]);
export type ConversationStatus = Static<typeof ConversationStatus>;
export const MemberRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
export type MemberRole = Static<typeof MemberRole>;
export const MemberState = Type.Union([Type.Literal('active'), Type.Literal('muted'), Type.Literal('banned')]);
export type MemberState = Static<typeof MemberState>;
export const NotificationPreference = Type.Union([Type.Literal('all'), Type.Literal('mentions'), Type.Literal('none')]);
export type NotificationPreference = Static<typeof NotificationPreference>;

/** Free JSON object for the embedding application (<= 4 KiB serialized). */
export const Metadata = Type.Record(Type.String(), Type.Unknown());
export type Metadata = Static<typeof Metadata>;

export const ConversationMe = Type.Object({
  role: MemberRole,
  state: MemberState,
  notifications: NotificationPreference,
  lastReadSeq: Type.Integer(),
  unreadCount: Type.Integer(),
});
export type ConversationMe = Static<typeof ConversationMe>;

export const LastMessagePreview = Type.Object({
  id: Uuid,
  seq: Type.Integer(),
  senderId: Type.Union([Uuid, Type.Null()]),
  type: Type.String(),
  content: Type.String(),
  createdAt: Timestamp,
});
export type LastMessagePreview = Static<typeof LastMessagePreview>;

export const Conversation = Type.Object({
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
  lastMessageAt: NullableTimestamp,
  lastSeq: Type.Integer(),
  me: Type.Union([ConversationMe, Type.Null()]),
  lastMessage: Type.Optional(Type.Union([LastMessagePreview, Type.Null()])),
});
export type Conversation = Static<typeof Conversation>;

export const Member = Type.Object({
  userId: Uuid,
  role: MemberRole,
  state: MemberState,
  joinedAt: Timestamp,
  lastReadSeq: Type.Integer(),
  /** Display name from the conversation service's user read model (additive; absent when unknown). */
  name: Type.Optional(Type.String()),
});
export type Member = Static<typeof Member>;
