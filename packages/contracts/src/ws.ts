/**
 * The WebSocket protocol of `GET /v1/ws` (API.md, Realtime): every client and
 * server frame as a TypeBox schema. The gateway validates incoming frames with
 * these, the SDK and the docs (AsyncAPI) are generated from / typed by them.
 *
 * A frame with an `id` (1..64 chars) gets exactly one reply carrying
 * `replyTo: id`. `typing`, `read` and `delivered` accept an optional `id`
 * (an extension of API.md): with one, success is answered by `ack { replyTo }`.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ErrorDetail, LIMITS, Timestamp, Uuid } from './api/common';
import { SendMessageFields, Message } from './api/message';
import { Notification } from './api/notification';
import { ConversationFact } from './events/payloads';

export const FrameId = Type.String({ minLength: 1, maxLength: 64 });
const strict = { additionalProperties: false } as const;

// ---- client -> server -------------------------------------------------------
export const AuthFrame = Type.Object(
  { type: Type.Literal('auth'), id: Type.Optional(FrameId), token: Type.String({ minLength: 1, maxLength: 4096 }) },
  strict,
);
export const PingFrame = Type.Object({ type: Type.Literal('ping'), id: Type.Optional(FrameId) }, strict);
/**
 * The message's own `type` (text/image/file) cannot share the frame's `type`
 * field, so it travels as `messageType`; the rest is the REST send body.
 */
const { type: sendMessageType, ...sendFieldsWithoutType } = SendMessageFields;
export const MessageSendFrame = Type.Object(
  {
    type: Type.Literal('message.send'),
    id: FrameId,
    conversationId: Uuid,
    ...sendFieldsWithoutType,
    messageType: sendMessageType,
  },
  strict,
);
export const TypingState = Type.Union([Type.Literal('start'), Type.Literal('stop')]);
export const TypingFrame = Type.Object(
  { type: Type.Literal('typing'), id: Type.Optional(FrameId), conversationId: Uuid, state: TypingState },
  strict,
);
export const ReadFrame = Type.Object(
  { type: Type.Literal('read'), id: Type.Optional(FrameId), conversationId: Uuid, seq: Type.Integer({ minimum: 0 }) },
  strict,
);
export const DeliveredFrame = Type.Object(
  {
    type: Type.Literal('delivered'),
    id: Type.Optional(FrameId),
    conversationId: Uuid,
    seq: Type.Integer({ minimum: 0 }),
  },
  strict,
);
export const ResumeCursor = Type.Object({ conversationId: Uuid, rev: Type.Integer({ minimum: 0 }) }, strict);
export const ResumeFrame = Type.Object(
  { type: Type.Literal('resume'), id: FrameId, cursors: Type.Array(ResumeCursor, { maxItems: 1000 }) },
  strict,
);
export const PresenceQueryFrame = Type.Object(
  { type: Type.Literal('presence.query'), id: FrameId, userIds: Type.Array(Uuid, { minItems: 1, maxItems: 200 }) },
  strict,
);

/** Every client frame by its `type`. */
export const CLIENT_FRAMES = {
  auth: AuthFrame,
  ping: PingFrame,
  'message.send': MessageSendFrame,
  typing: TypingFrame,
  read: ReadFrame,
  delivered: DeliveredFrame,
  resume: ResumeFrame,
  'presence.query': PresenceQueryFrame,
} as const satisfies Record<string, TSchema>;
export type ClientFrameType = keyof typeof CLIENT_FRAMES;
export type ClientFrame = { [K in ClientFrameType]: Static<(typeof CLIENT_FRAMES)[K]> }[ClientFrameType];
export const ClientFrame = Type.Union(Object.values(CLIENT_FRAMES));

// ---- server -> client -------------------------------------------------------
export const ReadyFrame = Type.Object({
  type: Type.Literal('ready'),
  replyTo: Type.Optional(FrameId),
  sessionId: Uuid,
  userId: Uuid,
  heartbeatMs: Type.Integer({ minimum: 1 }),
});
export const PongFrame = Type.Object({ type: Type.Literal('pong'), replyTo: Type.Optional(FrameId) });
export const AckFrame = Type.Object({
  type: Type.Literal('ack'),
  replyTo: FrameId,
  /** The stored message, for `message.send` (absent for acks of typing/read/delivered). */
  message: Type.Optional(Message),
});
export const MessageCreatedFrame = Type.Object({ type: Type.Literal('message.created'), message: Message });
export const MessageUpdatedFrame = Type.Object({ type: Type.Literal('message.updated'), message: Message });
export const MessageDeletedFrame = Type.Object({ type: Type.Literal('message.deleted'), message: Message });
export const TypingEventFrame = Type.Object({
  type: Type.Literal('typing'),
  conversationId: Uuid,
  userId: Uuid,
  state: TypingState,
});
export const ReceiptFrame = Type.Object({
  type: Type.Literal('receipt'),
  conversationId: Uuid,
  userId: Uuid,
  kind: Type.Union([Type.Literal('delivered'), Type.Literal('read')]),
  seq: Type.Integer({ minimum: 0 }),
});
export const PresenceStatus = Type.Union([Type.Literal('online'), Type.Literal('offline')]);
export const PresenceEntry = Type.Object({
  userId: Uuid,
  status: PresenceStatus,
  lastSeenAt: Type.Union([Timestamp, Type.Null()]),
});
export type PresenceEntry = Static<typeof PresenceEntry>;
export const PresenceFrame = Type.Object({ type: Type.Literal('presence'), ...PresenceEntry.properties });
export const PresenceStateFrame = Type.Object({
  type: Type.Literal('presence.state'),
  replyTo: FrameId,
  users: Type.Array(PresenceEntry),
});
export const NotificationCreatedFrame = Type.Object({
  type: Type.Literal('notification.created'),
  notification: Notification,
});
/** The conversation as its owner stores it (no per-caller `me`; reload over REST for that). */
export const ConversationUpdatedFrame = Type.Object({
  type: Type.Literal('conversation.updated'),
  conversation: ConversationFact,
});
export const MemberAddedFrame = Type.Object({ type: Type.Literal('member.added'), conversationId: Uuid, userId: Uuid });
export const MemberRemovedFrame = Type.Object({
  type: Type.Literal('member.removed'),
  conversationId: Uuid,
  userId: Uuid,
});
export const ResyncFrame = Type.Object({
  type: Type.Literal('resync'),
  conversationId: Uuid,
  rev: Type.Integer({ minimum: 0 }),
});
export const ResumedFrame = Type.Object({ type: Type.Literal('resumed'), replyTo: FrameId });
/**
 * `code`/`message` at the top (API.md), and the same as an `error` object in
 * the REST error shape (with `details` for validation failures) so a client can
 * treat a refused `message.send` exactly like a refused POST. `retryAfterMs`
 * (an extension, docs/api.md) is the WebSocket's `Retry-After`: on a
 * `rate_limited` or `unavailable` refusal, when to try the same frame again.
 */
export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  replyTo: Type.Optional(FrameId),
  code: Type.String(),
  message: Type.String(),
  retryAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
  error: Type.Optional(
    Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Array(ErrorDetail)) }),
  ),
});

export const SERVER_FRAMES = {
  ready: ReadyFrame,
  pong: PongFrame,
  ack: AckFrame,
  'message.created': MessageCreatedFrame,
  'message.updated': MessageUpdatedFrame,
  'message.deleted': MessageDeletedFrame,
  typing: TypingEventFrame,
  receipt: ReceiptFrame,
  presence: PresenceFrame,
  'presence.state': PresenceStateFrame,
  'notification.created': NotificationCreatedFrame,
  'conversation.updated': ConversationUpdatedFrame,
  'member.added': MemberAddedFrame,
  'member.removed': MemberRemovedFrame,
  resync: ResyncFrame,
  resumed: ResumedFrame,
  error: ErrorFrame,
} as const satisfies Record<string, TSchema>;
export type ServerFrameType = keyof typeof SERVER_FRAMES;
export type ServerFrame = { [K in ServerFrameType]: Static<(typeof SERVER_FRAMES)[K]> }[ServerFrameType];
export const ServerFrame = Type.Union(Object.values(SERVER_FRAMES));

/** WebSocket close codes of API.md. */
export const WS_CLOSE = {
  goingAway: 1001,
  tooLarge: 1009,
  unauthorized: 4401,
  forbiddenOrigin: 4403,
  tooSlow: 4408,
  rateLimited: 4429,
} as const;

export const WS_LIMITS = {
  frameBytes: LIMITS.wsFrameBytes,
  authTimeoutMs: 5000,
  typingThrottleMs: 2000,
  resumeMaxChanges: LIMITS.resumeMaxChanges,
} as const;
