export { ParleyClient, type ClientOptions, type CreateConversationInput, type SendMessageInput } from './client';
export type { MessageRevision, PageParams, SearchHit, ThreadReply } from './client';
export { HttpClient, ParleyApiError, type Tokens } from './http-client';
export { newClientMessageId } from './ids';
export {
  RealtimeConnection,
  type AnyWebSocketCtor,
  type ConnectionState,
  type QueuedMessage,
  type QueueStore,
  type RealtimeEventName,
  type RealtimeEvents,
  type RealtimeOptions,
  type WebSocketCtor,
  type WebSocketLike,
} from './realtime';
export { localStorageQueue, memoryQueue } from './queue-store';
// The API's shapes, so that an application needs only this package.
export type {
  Attachment,
  Conversation,
  ErrorCode,
  Member,
  Message,
  Notification,
  PageOf,
  PublicUser,
  Receipts,
  User,
} from '@parley/contracts';
