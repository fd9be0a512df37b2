/**
 * The one typed map of event types to payload schemas, and the subject scheme.
 *
 * Subjects are `<domain>.<key>.<action>` where `key` is the routing key of the
 * fact: the user id for `user.*`, `session.*` and `notification.*`, the
 * conversation id for `conversation.*`, `member.*`, `message.*` and
 * `receipt.*`. Putting the conversation id in the subject is what lets a
 * gateway subscribe only to the conversations of the users it holds
 * (interest-based routing) while the same message is stored in JetStream.
 * The bus adapters prepend a deployment prefix (default `parley`), so the
 * same code runs side by side in tests.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import * as P from './payloads';

export const EVENT_SCHEMAS = {
  'user.created': P.UserCreated,
  'user.updated': P.UserUpdated,
  'user.deleted': P.UserDeleted,
  'session.revoked': P.SessionRevoked,
  'conversation.created': P.ConversationCreated,
  'conversation.updated': P.ConversationUpdated,
  'conversation.deleted': P.ConversationDeleted,
  'member.added': P.MemberAdded,
  'member.updated': P.MemberUpdated,
  'member.removed': P.MemberRemoved,
  'message.created': P.MessageCreated,
  'message.updated': P.MessageUpdated,
  'message.deleted': P.MessageDeleted,
  'receipt.read': P.ReceiptMarked,
  'receipt.delivered': P.ReceiptMarked,
  'notification.created': P.NotificationCreated,
  'notification.read': P.NotificationRead,
} as const satisfies Record<string, TSchema>;

export type EventType = keyof typeof EVENT_SCHEMAS;
export type EventData<T extends EventType> = Static<(typeof EVENT_SCHEMAS)[T]>;
export type EventMap = { [K in EventType]: EventData<K> };
export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

/** Current schema version of each event's data. */
export const EVENT_VERSION = 1;

export type EventDomain = EventType extends `${infer D}.${string}` ? D : never;
export type EventAction<D extends EventDomain> =
  Extract<EventType, `${D}.${string}`> extends `${D}.${infer A}` ? A : never;

/** Subject of one event: `<domain>.<key>.<action>`. */
export function subjectOf(type: EventType, key: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(key)) throw new Error(`invalid subject key: ${key}`);
  const [domain, action] = type.split('.') as [string, string];
  return `${domain}.${key}.${action}`;
}

/** Subject filter for every event of a type (`message.*.created`). */
export function filterOf(type: EventType, key = '*'): string {
  const [domain, action] = type.split('.') as [string, string];
  return `${domain}.${key}.${action}`;
}

/** Event type of a subject (without the deployment prefix), or null. */
export function typeOfSubject(subject: string): EventType | null {
  const parts = subject.split('.');
  if (parts.length !== 3) return null;
  const type = `${parts[0]}.${parts[2]}`;
  return type in EVENT_SCHEMAS ? (type as EventType) : null;
}

/** The routing key of an event's data (the `<key>` of its subject). */
export function keyOf<T extends EventType>(type: T, data: EventData<T>): string {
  const d = data as Record<string, unknown>;
  const [domain] = type.split('.') as [string];
  switch (domain) {
    case 'user':
      return (d.userId as string | undefined) ?? (d.user as { id: string }).id;
    case 'session':
      return d.userId as string;
    case 'conversation':
      return (d.conversationId as string | undefined) ?? (d.conversation as { id: string }).id;
    case 'member':
    case 'receipt':
      return d.conversationId as string;
    case 'message':
      return (d.message as { conversationId: string }).conversationId;
    case 'notification':
      return (d.userId as string | undefined) ?? (d.notification as { userId: string }).userId;
    default:
      throw new Error(`no key for ${type}`);
  }
}

/** One JetStream stream per owning service. */
export const STREAMS = {
  auth: { name: 'AUTH', subjects: ['user.>', 'session.>'] },
  conversation: { name: 'CONVERSATION', subjects: ['conversation.>', 'member.>'] },
  message: { name: 'MESSAGE', subjects: ['message.>', 'receipt.>'] },
  notification: { name: 'NOTIFICATION', subjects: ['notification.>'] },
} as const;
export type StreamKey = keyof typeof STREAMS;

/** The stream that stores an event type. */
export function streamOf(type: EventType): StreamKey {
  const [domain] = type.split('.') as [string];
  for (const [k, s] of Object.entries(STREAMS)) {
    if (s.subjects.some((p) => p.startsWith(`${domain}.`))) return k as StreamKey;
  }
  throw new Error(`no stream stores ${type}`);
}

/**
 * Ephemeral (core NATS) subjects: typing, presence, live signals and
 * request/reply endpoints. Never stored; losing one loses nothing durable.
 */
export const LIVE = {
  typing: (conversationId: string) => `live.typing.${conversationId}`,
  presence: (userId: string) => `live.presence.${userId}`,
  presenceAll: 'live.presence.*',
} as const;

/** Request/reply endpoints (queue groups, timeouts). */
export const RPC = {
  /** auth: `{}` -> `{ keys: JWK[] }` public signing keys. */
  authJwks: 'rpc.auth.jwks',
  /** auth: `{ ids }` -> `{ users: PublicUser[] }` (unknown ids left out). */
  authUsers: 'rpc.auth.users',
  /** conversation: `{ conversationId, userId }` -> `MembershipAnswer`. */
  conversationMembership: 'rpc.conversation.membership',
  /** conversation: `{ userId }` -> `{ conversationIds }` where the user is active or muted. */
  conversationMemberships: 'rpc.conversation.memberships',
  /** conversation: `{ conversationId }` -> `{ members: MemberFact[] }` (all non-removed members). */
  conversationMembers: 'rpc.conversation.members',
} as const;
