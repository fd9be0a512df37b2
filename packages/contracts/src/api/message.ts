import { type Static, Type } from '@sinclair/typebox';
import { LIMITS, NullableTimestamp, Timestamp, Uuid } from './common';

export const MessageType = Type.Union([
  Type.Literal('text'),
  Type.Literal('image'),
  Type.Literal('file'),
  Type.Literal('system'),
]);
export type MessageType = Static<typeof MessageType>;
/** Types a client may send; `system` is written by the message service only. */
export const ClientMessageType = Type.Union([Type.Literal('text'), Type.Literal('image'), Type.Literal('file')]);
export type ClientMessageType = Static<typeof ClientMessageType>;

export const Attachment = Type.Object(
  {
    url: Type.String({ format: 'uri', maxLength: 2048 }),
    name: Type.String({ minLength: 1, maxLength: 255 }),
    mimeType: Type.String({ minLength: 3, maxLength: 255, pattern: '^[\\w.+-]+/[\\w.+-]+$' }),
    size: Type.Integer({ minimum: 0, maximum: 10 * 1024 * 1024 * 1024 }),
  },
  { additionalProperties: false },
);
export type Attachment = Static<typeof Attachment>;

export const SystemEvent = Type.Union([
  Type.Literal('created'),
  Type.Literal('member_added'),
  Type.Literal('member_joined'),
  Type.Literal('member_left'),
  Type.Literal('member_removed'),
  Type.Literal('member_banned'),
  Type.Literal('member_unbanned'),
  Type.Literal('title_changed'),
  Type.Literal('closed'),
  Type.Literal('archived'),
  Type.Literal('reopened'),
]);
export type SystemEvent = Static<typeof SystemEvent>;

export const SystemInfo = Type.Object({
  event: SystemEvent,
  actorId: Type.Union([Uuid, Type.Null()]),
  targetIds: Type.Array(Uuid),
});
export type SystemInfo = Static<typeof SystemInfo>;

export const Message = Type.Object({
  id: Uuid,
  conversationId: Uuid,
  seq: Type.Integer(),
  rev: Type.Integer(),
  senderId: Type.Union([Uuid, Type.Null()]),
  clientMessageId: Type.Union([Uuid, Type.Null()]),
  type: MessageType,
  content: Type.String(),
  attachments: Type.Array(Attachment),
  mentions: Type.Array(Uuid),
  parentId: Type.Union([Uuid, Type.Null()]),
  threadRootId: Type.Union([Uuid, Type.Null()]),
  replyCount: Type.Integer(),
  system: Type.Union([SystemInfo, Type.Null()]),
  createdAt: Timestamp,
  editedAt: NullableTimestamp,
  deletedAt: NullableTimestamp,
});
export type Message = Static<typeof Message>;

/** Body of a send, shared by REST and the WebSocket `message.send` frame. */
export const SendMessageFields = {
  clientMessageId: Uuid,
  content: Type.String({ maxLength: LIMITS.messageContentChars }),
  type: Type.Optional(ClientMessageType),
  attachments: Type.Optional(Type.Array(Attachment, { maxItems: 10 })),
  parentId: Type.Optional(Uuid),
};
export const SendMessageBody = Type.Object(SendMessageFields, { additionalProperties: false });
export type SendMessageBody = Static<typeof SendMessageBody>;

export const Receipts = Type.Object({
  deliveredTo: Type.Array(Type.Object({ userId: Uuid, at: Timestamp })),
  readBy: Type.Array(Type.Object({ userId: Uuid, at: Timestamp })),
});
export type Receipts = Static<typeof Receipts>;
