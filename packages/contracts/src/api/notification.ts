import { type Static, Type } from '@sinclair/typebox';
import { NullableTimestamp, Timestamp, Uuid } from './common';

export const NotificationKind = Type.Union([
  Type.Literal('message'),
  Type.Literal('mention'),
  Type.Literal('reply'),
  Type.Literal('edit'),
  Type.Literal('system'),
]);
export type NotificationKind = Static<typeof NotificationKind>;

export const Notification = Type.Object({
  id: Uuid,
  userId: Uuid,
  kind: NotificationKind,
  conversationId: Uuid,
  messageId: Uuid,
  title: Type.String(),
  body: Type.String(),
  readAt: NullableTimestamp,
  createdAt: Timestamp,
});
export type Notification = Static<typeof Notification>;
