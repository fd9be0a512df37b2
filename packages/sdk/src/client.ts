/**
 * `ParleyClient`: every REST route of docs/api.md as a typed method, plus
 * `realtime()` for the WebSocket. Works in Node (20+) and browsers.
 */
import type {
  Attachment,
  AuthResult,
  AuthTokens,
  ClientMessageType,
  Conversation,
  ConversationStatus,
  Member,
  MemberRole,
  MemberState,
  Message,
  Metadata,
  Notification,
  NotificationPreference,
  PageOf,
  PublicUser,
  Receipts,
  User,
  Visibility,
} from '@parley/contracts';
import { HttpClient, type HttpClientOptions, type Tokens } from './http-client';
import { newClientMessageId } from './ids';
import { RealtimeConnection, type RealtimeOptions } from './realtime';

export interface PageParams {
  limit?: number;
  cursor?: string;
}

export interface CreateConversationInput {
  type: 'direct' | 'group';
  memberIds: string[];
  title?: string;
  visibility?: Visibility;
  maxMembers?: number;
  metadata?: Metadata;
}

export interface SendMessageInput {
  content: string;
  clientMessageId?: string;
  type?: ClientMessageType;
  attachments?: Attachment[];
  parentId?: string;
}

export interface ThreadReply extends Message {
  depth: number;
}

export interface SearchHit extends Message {
  snippet?: string;
  rank?: number;
}

export interface MessageRevision {
  content: string;
  editedAt: string;
  editorId: string;
}

export type ClientOptions = HttpClientOptions;

export class ParleyClient {
  readonly http: HttpClient;

  constructor(opts: ClientOptions) {
    this.http = new HttpClient(opts);
  }

  get tokens(): Tokens | null {
    return this.http.getTokens();
  }

  // ---- auth and users ----------------------------------------------------
  readonly auth = {
    register: async (input: { email: string; password: string; passwordConfirm: string; name: string }) =>
      this.keepTokens(
        await this.http.request<AuthResult>('POST', '/v1/auth/register', { body: input, anonymous: true }),
      ),
    login: async (input: { email: string; password: string }) =>
      this.keepTokens(await this.http.request<AuthResult>('POST', '/v1/auth/login', { body: input, anonymous: true })),
    refresh: () => this.http.refresh(),
    logout: async () => {
      const refreshToken = this.http.getTokens()?.refreshToken;
      if (refreshToken) await this.http.request<void>('POST', '/v1/auth/logout', { body: { refreshToken } });
      this.http.setTokens(null);
    },
    jwks: () => this.http.request<{ keys: unknown[] }>('GET', '/v1/auth/jwks.json', { anonymous: true }),
  };

  readonly users = {
    me: () => this.http.request<User>('GET', '/v1/users/me'),
    updateMe: (patch: { name?: string; avatarUrl?: string | null; statusText?: string | null }) =>
      this.http.request<User>('PATCH', '/v1/users/me', { body: patch }),
    deleteMe: async (password: string) => {
      await this.http.request<void>('DELETE', '/v1/users/me', { body: { password } });
      this.http.setTokens(null);
    },
    list: (params: PageParams & { query?: string } = {}) =>
      this.http.request<PageOf<PublicUser>>('GET', '/v1/users', { query: { ...params } }),
    get: (id: string) => this.http.request<PublicUser>('GET', `/v1/users/${enc(id)}`),
  };

  // ---- conversations -----------------------------------------------------
  readonly conversations = {
    create: (input: CreateConversationInput) =>
      this.http.request<Conversation>('POST', '/v1/conversations', { body: input }),
    list: (params: PageParams & { status?: ConversationStatus[] } = {}) =>
      this.http.request<PageOf<Conversation>>('GET', '/v1/conversations', {
        query: { limit: params.limit, cursor: params.cursor, status: params.status?.join(',') },
      }),
    listPublic: (params: PageParams & { query?: string } = {}) =>
      this.http.request<PageOf<Conversation>>('GET', '/v1/conversations/public', { query: { ...params } }),
    get: (id: string) => this.http.request<Conversation>('GET', `/v1/conversations/${enc(id)}`),
    update: (
      id: string,
      patch: { title?: string; visibility?: Visibility; maxMembers?: number; metadata?: Metadata },
    ) => this.http.request<Conversation>('PATCH', `/v1/conversations/${enc(id)}`, { body: patch }),
    close: (id: string) => this.http.request<Conversation>('POST', `/v1/conversations/${enc(id)}/close`),
    archive: (id: string) => this.http.request<Conversation>('POST', `/v1/conversations/${enc(id)}/archive`),
    reopen: (id: string) => this.http.request<Conversation>('POST', `/v1/conversations/${enc(id)}/reopen`),
    join: (id: string) => this.http.request<Conversation>('POST', `/v1/conversations/${enc(id)}/join`),
    members: (id: string, params: PageParams = {}) =>
      this.http.request<PageOf<Member>>('GET', `/v1/conversations/${enc(id)}/members`, { query: { ...params } }),
    addMembers: (id: string, userIds: string[]) =>
      this.http.request<unknown>('POST', `/v1/conversations/${enc(id)}/members`, { body: { userIds } }),
    updateMember: (id: string, userId: string, patch: { role?: MemberRole; state?: MemberState }) =>
      this.http.request<unknown>('PATCH', `/v1/conversations/${enc(id)}/members/${enc(userId)}`, { body: patch }),
    removeMember: (id: string, userId: string) =>
      this.http.request<void>('DELETE', `/v1/conversations/${enc(id)}/members/${enc(userId)}`),
    setNotifications: (id: string, notifications: NotificationPreference) =>
      this.http.request<unknown>('PATCH', `/v1/conversations/${enc(id)}/members/me`, { body: { notifications } }),
  };

  // ---- messages ----------------------------------------------------------
  readonly messages = {
    send: (conversationId: string, input: SendMessageInput) =>
      this.http.request<Message>('POST', `/v1/conversations/${enc(conversationId)}/messages`, {
        body: { ...input, clientMessageId: input.clientMessageId ?? newClientMessageId() },
      }),
    list: (conversationId: string, params: { before?: number; after?: number; limit?: number } = {}) =>
      this.http.request<PageOf<Message>>('GET', `/v1/conversations/${enc(conversationId)}/messages`, {
        query: { ...params },
      }),
    changes: (conversationId: string, params: { sinceRev: number; limit?: number }) =>
      this.http.request<PageOf<Message>>('GET', `/v1/conversations/${enc(conversationId)}/changes`, {
        query: { ...params },
      }),
    get: (id: string) => this.http.request<Message>('GET', `/v1/messages/${enc(id)}`),
    edit: (id: string, content: string) =>
      this.http.request<Message>('PATCH', `/v1/messages/${enc(id)}`, { body: { content } }),
    delete: (id: string) => this.http.request<void>('DELETE', `/v1/messages/${enc(id)}`),
    thread: (id: string, params: PageParams = {}) =>
      this.http.request<{ root: Message; replies: ThreadReply[]; nextCursor?: string | null }>(
        'GET',
        `/v1/messages/${enc(id)}/thread`,
        { query: { ...params } },
      ),
    history: (id: string) =>
      this.http.request<{ items: MessageRevision[] } | MessageRevision[]>('GET', `/v1/messages/${enc(id)}/history`),
    receipts: (id: string) => this.http.request<Receipts>('GET', `/v1/messages/${enc(id)}/receipts`),
    read: (conversationId: string, seq: number) =>
      this.http.request<{ lastReadSeq: number; unreadCount: number }>(
        'POST',
        `/v1/conversations/${enc(conversationId)}/read`,
        { body: { seq } },
      ),
    delivered: (conversationId: string, seq: number) =>
      this.http.request<{ lastDeliveredSeq: number }>('POST', `/v1/conversations/${enc(conversationId)}/delivered`, {
        body: { seq },
      }),
    unread: (params: PageParams & { conversationId?: string } = {}) =>
      this.http.request<PageOf<Message>>('GET', '/v1/messages/unread', { query: { ...params } }),
    search: (q: string, params: PageParams & { conversationId?: string } = {}) =>
      this.http.request<PageOf<SearchHit>>('GET', '/v1/search/messages', { query: { q, ...params } }),
  };

  // ---- notifications -----------------------------------------------------
  readonly notifications = {
    list: (params: PageParams & { unread?: boolean } = {}) =>
      this.http.request<PageOf<Notification>>('GET', '/v1/notifications', {
        query: { limit: params.limit, cursor: params.cursor, unread: params.unread ? 'true' : undefined },
      }),
    unreadCount: () => this.http.request<{ count: number }>('GET', '/v1/notifications/unread-count'),
    read: (id: string) => this.http.request<unknown>('POST', `/v1/notifications/${enc(id)}/read`),
    readAll: (conversationId?: string) =>
      this.http.request<{ updated: number }>('POST', '/v1/notifications/read-all', {
        body: conversationId ? { conversationId } : {},
      }),
  };

  /** Opens (and keeps open) the realtime connection. */
  realtime(opts: Omit<RealtimeOptions, 'http'> = {}): RealtimeConnection {
    return new RealtimeConnection({ ...opts, http: this.http });
  }

  private keepTokens<T extends AuthTokens>(result: T): T {
    this.http.setTokens({ accessToken: result.accessToken, refreshToken: result.refreshToken });
    return result;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
