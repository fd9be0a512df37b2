/**
 * Parley's web client: a small, framework-free chat UI on the SDK.
 * Screens: sign in / register, then conversations (list, direct and group
 * creation), the open conversation (infinite scroll, live messages, optimistic
 * sends with sent/delivered/read status, typing, presence, edit, delete,
 * threads) and notifications. Unsent messages are kept in localStorage and
 * sent once when the connection returns.
 */
import type { Conversation, Message, Notification, PublicUser, User } from '@parley/contracts';
import {
  localStorageQueue,
  newClientMessageId,
  ParleyApiError,
  ParleyClient,
  type RealtimeConnection,
  type Tokens,
} from '@parley/sdk';
import { append, bellIcon, clear, debounce, h, timeOf } from './dom';

const TOKENS_KEY = 'parley.tokens';
const app = document.getElementById('app')!;
const offlineBanner = document.getElementById('offline')!;

function loadTokens(): Tokens | null {
  try {
    return JSON.parse(localStorage.getItem(TOKENS_KEY) ?? 'null') as Tokens | null;
  } catch {
    return null;
  }
}

const client = new ParleyClient({
  baseUrl: location.origin,
  tokens: loadTokens(),
  onTokens: (t) => (t ? localStorage.setItem(TOKENS_KEY, JSON.stringify(t)) : localStorage.removeItem(TOKENS_KEY)),
});

interface UiMessage extends Message {
  /** Local send state of the caller's own messages. */
  local?: 'sending' | 'failed';
}

const state = {
  me: null as User | null,
  rt: null as RealtimeConnection | null,
  conversations: [] as Conversation[],
  openId: null as string | null,
  messages: new Map<string, UiMessage>(),
  oldestSeq: Number.POSITIVE_INFINITY,
  reachedStart: false,
  loadingOlder: false,
  users: new Map<string, PublicUser>(),
  presence: new Map<string, string>(),
  typing: new Map<string, ReturnType<typeof setTimeout>>(),
  /** Highest seq another member read / got delivered, per conversation. */
  readUpTo: new Map<string, number>(),
  deliveredUpTo: new Map<string, number>(),
  replyTo: null as UiMessage | null,
  notifUnread: 0,
  lastTypingSent: 0,
};

// ---- helpers ---------------------------------------------------------------

function errorText(err: unknown): string {
  if (err instanceof ParleyApiError) {
    const details = err.details.map((d) => `${d.field}: ${d.message}`).join('; ');
    return details ? `${err.message} (${details})` : err.message;
  }
  return String((err as Error)?.message ?? err);
}

async function user(id: string | null): Promise<PublicUser | null> {
  if (!id) return null;
  const cached = state.users.get(id);
  if (cached) return cached;
  try {
    const u = await client.users.get(id);
    state.users.set(id, u);
    return u;
  } catch {
    return null;
  }
}

function nameOf(id: string | null): string {
  if (!id) return 'System';
  if (id === state.me?.id) return 'You';
  return state.users.get(id)?.name ?? 'Deleted user';
}

async function conversationTitle(c: Conversation): Promise<string> {
  if (c.type === 'group') return c.title ?? 'Untitled group';
  const other = await otherMemberId(c);
  return (await user(other))?.name ?? 'Direct conversation';
}

const directPeers = new Map<string, string | null>();
async function otherMemberId(c: Conversation): Promise<string | null> {
  if (c.type !== 'direct') return null;
  if (directPeers.has(c.id)) return directPeers.get(c.id) ?? null;
  try {
    const members = await client.conversations.members(c.id, { limit: 10 });
    const other = members.items.find((m) => m.userId !== state.me?.id)?.userId ?? null;
    directPeers.set(c.id, other);
    for (const m of members.items) {
      if (m.userId !== state.me?.id) state.readUpTo.set(c.id, Math.max(state.readUpTo.get(c.id) ?? 0, m.lastReadSeq));
    }
    return other;
  } catch {
    return null;
  }
}

// ---- auth screen -------------------------------------------------------------

function renderAuth(message = ''): void {
  clear(app);
  offlineBanner.hidden = true;
  const email = h('input', {
    id: 'email',
    type: 'email',
    autocomplete: 'email',
    required: true,
    'data-testid': 'auth-email',
  });
  const password = h('input', {
    id: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'data-testid': 'auth-password',
  });
  const name = h('input', { id: 'name', autocomplete: 'name', 'data-testid': 'auth-name' });
  const error = h('p', { className: 'error', role: 'alert', 'data-testid': 'auth-error' }, message);
  const submit = async (mode: 'login' | 'register') => {
    error.textContent = '';
    try {
      if (mode === 'login') await client.auth.login({ email: email.value, password: password.value });
      else
        await client.auth.register({
          email: email.value,
          password: password.value,
          passwordConfirm: password.value,
          name: name.value,
        });
      await startMain();
    } catch (err) {
      error.textContent = errorText(err);
    }
  };
  const form = h(
    'form',
    {
      className: 'auth',
      'aria-labelledby': 'auth-title',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void submit('login');
      },
    },
    h('h1', { id: 'auth-title' }, 'Parley'),
    h('label', { for: 'email' }, 'E-mail'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
    h('label', { for: 'name' }, 'Name (to register)'),
    name,
    error,
    h(
      'div',
      { className: 'row' },
      h('button', { type: 'submit', className: 'primary', 'data-testid': 'auth-login' }, 'Log in'),
      h(
        'button',
        { type: 'button', 'data-testid': 'auth-register', onclick: () => void submit('register') },
        'Register',
      ),
    ),
  );
  app.append(form);
  email.focus();
}

// ---- main screen -------------------------------------------------------------

const sidebarList = h('ul', { className: 'convs', 'aria-label': 'Conversations', 'data-testid': 'conv-list' });
const chat = h('section', { className: 'chat', 'aria-label': 'Conversation' });
const panel = h('aside', { className: 'panel', hidden: true, 'aria-label': 'Side panel' });
const notifBadge = h('span', { className: 'badge', 'data-testid': 'notif-count', hidden: true }, '0');

async function startMain(): Promise<void> {
  try {
    state.me = await client.users.me();
  } catch {
    renderAuth();
    return;
  }
  state.users.set(state.me.id, state.me);
  clear(app);
  const sidebar = h(
    'nav',
    { className: 'sidebar', 'aria-label': 'Sidebar' },
    h(
      'header',
      {},
      h('span', { className: 'me', 'data-testid': 'me-name' }, state.me.name),
      h(
        'button',
        {
          className: 'icon',
          'aria-label': 'Notifications',
          title: 'Notifications',
          'data-testid': 'notif-open',
          onclick: () => void openNotifications(),
        },
        bellIcon(),
        notifBadge,
      ),
      h('button', { 'data-testid': 'logout', onclick: () => void logout() }, 'Log out'),
    ),
    h(
      'div',
      { className: 'actions' },
      h('button', { 'data-testid': 'new-direct', onclick: () => openCreateDialog('direct') }, 'New direct'),
      h('button', { 'data-testid': 'new-group', onclick: () => openCreateDialog('group') }, 'New group'),
    ),
    sidebarList,
  );
  app.append(sidebar, chat, panel);
  renderEmptyChat();
  connectRealtime();
  await Promise.all([reloadConversations(), refreshNotifCount()]);
}

async function logout(): Promise<void> {
  state.rt?.close();
  state.rt = null;
  try {
    await client.auth.logout();
  } catch {
    // The session is gone either way.
  }
  state.openId = null;
  renderAuth();
}

function renderEmptyChat(): void {
  clear(chat);
  chat.append(h('p', { className: 'empty' }, 'Pick a conversation or start a new one.'));
}

const reloadConversationsSoon = debounce(() => void reloadConversations(), 400);

async function reloadConversations(): Promise<void> {
  try {
    const page = await client.conversations.list({ limit: 100 });
    state.conversations = page.items;
  } catch {
    return;
  }
  await renderConversationList();
}

async function renderConversationList(): Promise<void> {
  const items = await Promise.all(
    state.conversations.map(async (c) => {
      const title = await conversationTitle(c);
      const other = await otherMemberId(c);
      const unread = c.id === state.openId ? 0 : (c.me?.unreadCount ?? 0);
      const preview = c.lastMessage
        ? `${c.lastMessage.senderId ? `${nameOf(c.lastMessage.senderId)}: ` : ''}${c.lastMessage.content}`
        : 'No messages yet';
      return h(
        'li',
        {
          tabindex: 0,
          role: 'link',
          'data-testid': 'conv-item',
          'data-id': c.id,
          'aria-current': c.id === state.openId ? 'true' : 'false',
          onclick: () => void openConversation(c.id),
          onkeydown: (e: Event) => {
            if ((e as KeyboardEvent).key === 'Enter') void openConversation(c.id);
          },
        },
        h(
          'span',
          { className: 'title' },
          other ? h('span', { className: `dot ${state.presence.get(other) === 'online' ? 'online' : ''}` }) : null,
          title,
        ),
        unread > 0
          ? h(
              'span',
              { className: 'badge', 'data-testid': 'unread-badge', 'aria-label': `${unread} unread` },
              String(unread),
            )
          : h('span'),
        h('span', { className: 'preview', 'data-testid': 'conv-preview' }, preview),
      );
    }),
  );
  clear(sidebarList);
  sidebarList.append(...items);
  const others = [...directPeers.values()].filter((x): x is string => !!x);
  if (others.length && state.rt?.state === 'open') {
    void state.rt
      .presence(others)
      .then((users) => {
        let changed = false;
        for (const u of users) {
          if (state.presence.get(u.userId) !== u.status) changed = true;
          state.presence.set(u.userId, u.status);
        }
        if (changed) void renderConversationList();
        renderChatHeader();
      })
      .catch(() => {});
  }
}

// ---- conversation view -------------------------------------------------------

const messageList = h('div', {
  className: 'messages',
  'data-testid': 'messages',
  tabindex: 0,
  'aria-label': 'Messages',
});
const typingLine = h('div', { className: 'typing', 'data-testid': 'typing', 'aria-live': 'polite' });
const chatHeader = h('header', {});
const replyLine = h('div', { className: 'replying', hidden: true });
const input = h('textarea', {
  id: 'composer',
  placeholder: 'Write a message',
  'aria-label': 'Message',
  'data-testid': 'composer-input',
  maxlength: 8000,
});

messageList.addEventListener('scroll', () => {
  if (messageList.scrollTop < 60) void loadOlder();
});

input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    void sendCurrent();
  } else if (e.key === 'Escape') {
    setReplyTo(null);
  }
});
input.addEventListener('input', () => {
  if (!state.openId || !state.rt) return;
  if (input.value.trim() === '') {
    // Cleared without sending: stop showing the others that a message is coming.
    if (state.lastTypingSent > 0) state.rt.typing(state.openId, 'stop');
    state.lastTypingSent = 0;
    return;
  }
  const now = Date.now();
  if (now - state.lastTypingSent > 2000) {
    state.lastTypingSent = now;
    state.rt.typing(state.openId, 'start');
  }
});

async function openConversation(id: string): Promise<void> {
  state.openId = id;
  state.messages.clear();
  state.oldestSeq = Number.POSITIVE_INFINITY;
  state.reachedStart = false;
  setReplyTo(null);
  closePanel();
  clear(chat);
  const composer = h(
    'form',
    {
      className: 'composer',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void sendCurrent();
      },
    },
    input,
    h('button', { type: 'submit', className: 'primary', 'data-testid': 'composer-send' }, 'Send'),
  );
  chat.append(chatHeader, messageList, typingLine, replyLine, composer);
  clear(messageList);
  renderChatHeader();
  const page = await client.messages.list(id, { limit: 50 });
  if (state.openId !== id) return;
  for (const m of page.items) state.messages.set(m.id, m);
  // Messages still queued (offline, or kept from before a reload) show where they will land.
  const stored = new Set(page.items.map((m) => m.clientMessageId));
  for (const q of state.rt?.queued ?? []) {
    if (q.conversationId !== id || stored.has(q.clientMessageId)) continue;
    const bubble = optimisticMessage(q);
    state.messages.set(bubble.id, bubble);
  }
  state.reachedStart = page.nextCursor === null;
  trackFrom(page.items);
  renderMessages(true);
  markRead();
  void renderConversationList();
  input.focus();
}

function trackFrom(items: Message[]): void {
  if (!state.openId || !state.rt) return;
  const maxRev = items.reduce((r, m) => Math.max(r, m.rev), 0);
  if (maxRev > 0) state.rt.track(state.openId, maxRev);
}

function renderChatHeader(): void {
  const c = state.conversations.find((x) => x.id === state.openId);
  clear(chatHeader);
  if (!c) return;
  const other = directPeers.get(c.id) ?? null;
  const online = other ? state.presence.get(other) === 'online' : false;
  const title = h('strong', { 'data-testid': 'chat-title' }, '…');
  void conversationTitle(c).then((t) => {
    title.textContent = t;
  });
  append(
    chatHeader,
    other
      ? h('span', {
          className: `dot ${online ? 'online' : ''}`,
          'data-testid': 'presence-dot',
          'data-status': online ? 'online' : 'offline',
          title: online ? 'online' : 'offline',
        })
      : null,
    title,
    c.status !== 'open' ? h('span', { className: 'preview' }, ` (${c.status})`) : null,
  );
}

async function loadOlder(): Promise<void> {
  const id = state.openId;
  if (!id || state.loadingOlder || state.reachedStart || !Number.isFinite(state.oldestSeq)) return;
  state.loadingOlder = true;
  try {
    const page = await client.messages.list(id, { before: state.oldestSeq, limit: 50 });
    if (state.openId !== id) return;
    for (const m of page.items) state.messages.set(m.id, m);
    state.reachedStart = page.nextCursor === null || page.items.length === 0;
    const before = messageList.scrollHeight;
    renderMessages(false);
    // Keep what the reader was looking at in place.
    messageList.scrollTop += messageList.scrollHeight - before;
  } finally {
    state.loadingOlder = false;
  }
}

function statusOf(m: UiMessage): string {
  if (m.local === 'sending') return state.rt?.state === 'open' ? 'sending' : 'queued';
  if (m.local === 'failed') return 'failed';
  const conv = m.conversationId;
  if ((state.readUpTo.get(conv) ?? 0) >= m.seq) return 'read';
  if ((state.deliveredUpTo.get(conv) ?? 0) >= m.seq) return 'delivered';
  return 'sent';
}

function renderMessages(scrollToEnd: boolean): void {
  const nearEnd = messageList.scrollHeight - messageList.scrollTop - messageList.clientHeight < 80;
  const sorted = [...state.messages.values()].sort((a, b) => (a.seq || 1e15) - (b.seq || 1e15));
  state.oldestSeq = sorted.find((m) => m.seq > 0)?.seq ?? Number.POSITIVE_INFINITY;
  clear(messageList);
  for (const m of sorted) messageList.append(renderMessage(m));
  if (scrollToEnd || nearEnd) messageList.scrollTop = messageList.scrollHeight;
}

function renderMessage(m: UiMessage): HTMLElement {
  if (m.type === 'system') {
    return h('div', { className: 'msg system', 'data-testid': 'msg', 'data-id': m.id, 'data-seq': m.seq }, m.content);
  }
  const mine = m.senderId === state.me?.id;
  const deleted = !!m.deletedAt;
  const parent = m.parentId ? state.messages.get(m.parentId) : null;
  return h(
    'article',
    {
      className: `msg ${mine ? 'mine' : ''} ${deleted ? 'deleted' : ''}`,
      'data-testid': 'msg',
      'data-id': m.id,
      'data-seq': m.seq,
      'aria-label': `${nameOf(m.senderId)} at ${timeOf(m.createdAt)}`,
    },
    parent
      ? h(
          'div',
          { className: 'quote', 'data-testid': 'msg-quote' },
          `↪ ${nameOf(parent.senderId)}: ${parent.deletedAt ? 'Message deleted' : parent.content.slice(0, 80)}`,
        )
      : null,
    !mine ? h('div', { className: 'sender' }, nameOf(m.senderId)) : null,
    h('div', { className: 'body', 'data-testid': 'msg-body' }, deleted ? 'Message deleted' : m.content),
    h(
      'div',
      { className: 'meta' },
      h('time', { datetime: m.createdAt }, timeOf(m.createdAt)),
      m.editedAt && !deleted ? h('span', { 'data-testid': 'msg-edited' }, 'edited') : null,
      mine && !deleted ? h('span', { 'data-testid': 'msg-status' }, statusOf(m)) : null,
      m.replyCount > 0
        ? h(
            'button',
            { 'data-testid': 'msg-thread', onclick: () => void openThread(m.threadRootId ?? m.id) },
            `${m.replyCount} ${m.replyCount === 1 ? 'reply' : 'replies'}`,
          )
        : null,
      !deleted && m.seq > 0
        ? h(
            'button',
            { 'data-testid': 'msg-reply', 'aria-label': 'Reply in thread', onclick: () => setReplyTo(m) },
            'Reply',
          )
        : null,
      mine && !deleted && m.seq > 0
        ? h('button', { 'data-testid': 'msg-edit', onclick: () => void editMessage(m) }, 'Edit')
        : null,
      mine && !deleted && m.seq > 0
        ? h('button', { 'data-testid': 'msg-delete', onclick: () => void deleteMessage(m) }, 'Delete')
        : null,
    ),
  );
}

function setReplyTo(m: UiMessage | null): void {
  state.replyTo = m;
  replyLine.hidden = !m;
  replyLine.textContent = m ? `Replying to ${nameOf(m.senderId)}: ${m.content.slice(0, 60)} (Esc to cancel)` : '';
}

async function sendCurrent(): Promise<void> {
  const content = input.value.trim();
  const conversationId = state.openId;
  if (!content || !conversationId || !state.rt || !state.me) return;
  input.value = '';
  const clientMessageId = newClientMessageId();
  const parentId = state.replyTo?.id;
  setReplyTo(null);
  // Optimistic: shown at once, replaced by the stored message on ack or event.
  const optimistic = optimisticMessage({ clientMessageId, conversationId, content, parentId });
  state.messages.set(optimistic.id, optimistic);
  renderMessages(true);
  state.rt.typing(conversationId, 'stop');
  state.lastTypingSent = 0;
  try {
    const stored = await state.rt.send(conversationId, { content, clientMessageId, parentId });
    upsertMessage(stored);
  } catch (err) {
    const cur = state.messages.get(optimistic.id);
    if (cur) {
      cur.local = 'failed';
      renderMessages(false);
    }
    alert(`Not sent: ${errorText(err)}`);
  }
}

/** The caller's own message as shown before the server stored it. */
function optimisticMessage(item: {
  clientMessageId: string;
  conversationId: string;
  content: string;
  parentId?: string;
  queuedAt?: string;
}): UiMessage {
  return {
    id: `local-${item.clientMessageId}`,
    conversationId: item.conversationId,
    seq: 0,
    rev: 0,
    senderId: state.me?.id ?? null,
    clientMessageId: item.clientMessageId,
    type: 'text',
    content: item.content,
    attachments: [],
    mentions: [],
    parentId: item.parentId ?? null,
    threadRootId: null,
    replyCount: 0,
    system: null,
    createdAt: item.queuedAt ?? new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
    local: 'sending',
  };
}

/** Puts a stored message in place of its optimistic copy or older version. */
function upsertMessage(m: Message): void {
  if (m.conversationId !== state.openId) return;
  if (m.clientMessageId) state.messages.delete(`local-${m.clientMessageId}`);
  const cur = state.messages.get(m.id);
  if (cur && cur.rev > m.rev) return;
  state.messages.set(m.id, m);
  if (m.parentId) {
    // Replies change their ancestors' counts; refetch the parent lazily.
    const parent = state.messages.get(m.parentId);
    if (parent && !cur)
      void client.messages.get(parent.id).then(
        (p) => upsertMessage(p),
        () => {},
      );
  }
  renderMessages(false);
}

async function editMessage(m: UiMessage): Promise<void> {
  const content = prompt('Edit message', m.content);
  if (content === null || content.trim() === '' || content === m.content) return;
  try {
    upsertMessage(await client.messages.edit(m.id, content.trim()));
  } catch (err) {
    alert(errorText(err));
  }
}

async function deleteMessage(m: UiMessage): Promise<void> {
  if (!confirm('Delete this message?')) return;
  try {
    await client.messages.delete(m.id);
    const fresh = await client.messages.get(m.id);
    upsertMessage(fresh);
  } catch (err) {
    alert(errorText(err));
  }
}

function markRead(): void {
  const id = state.openId;
  if (!id || document.hidden) return;
  const maxSeq = Math.max(0, ...[...state.messages.values()].map((m) => m.seq));
  if (maxSeq > 0 && state.rt?.state === 'open') {
    state.rt.read(id, maxSeq);
    refreshNotifCountSoon();
  }
  const c = state.conversations.find((x) => x.id === id);
  if (c?.me) c.me.unreadCount = 0;
}
document.addEventListener('visibilitychange', () => markRead());

// ---- threads and notifications ----------------------------------------------

function closePanel(): void {
  panel.hidden = true;
  clear(panel);
}

async function openThread(rootId: string): Promise<void> {
  const thread = await client.messages.thread(rootId, { limit: 200 });
  clear(panel);
  panel.hidden = false;
  panel.append(
    h('header', {}, h('strong', {}, 'Thread'), h('button', { onclick: closePanel, 'aria-label': 'Close thread' }, '✕')),
    h(
      'ul',
      { 'data-testid': 'thread' },
      h('li', {}, `${nameOf(thread.root.senderId)}: ${thread.root.content}`),
      ...thread.replies.map((r) => {
        const li = h(
          'li',
          { 'data-testid': 'thread-reply', 'data-depth': r.depth },
          `${nameOf(r.senderId)}: ${r.deletedAt ? 'Message deleted' : r.content}`,
        );
        // Through the CSSOM: the page's CSP refuses style attributes in markup.
        li.style.paddingLeft = `${0.8 + r.depth * 0.8}rem`;
        return li;
      }),
    ),
  );
}

async function refreshNotifCount(): Promise<void> {
  if (!navigator.onLine) return; // recounted when the connection is back (on 'ready')
  try {
    state.notifUnread = (await client.notifications.unreadCount()).count;
  } catch {
    return;
  }
  renderNotifBadge();
}

function renderNotifBadge(): void {
  notifBadge.textContent = String(state.notifUnread);
  notifBadge.hidden = state.notifUnread === 0;
  notifBadge.setAttribute('aria-label', `${state.notifUnread} unread`);
}

/** Reading marks notifications read on the server a moment later: fetch the count then. */
const refreshNotifCountSoon = debounce(() => void refreshNotifCount(), 1500);

async function openNotifications(): Promise<void> {
  const page = await client.notifications.list({ limit: 50 });
  clear(panel);
  panel.hidden = false;
  panel.append(
    h(
      'header',
      {},
      h('strong', {}, 'Notifications'),
      h(
        'button',
        {
          'data-testid': 'notif-read-all',
          onclick: async () => {
            await client.notifications.readAll();
            await refreshNotifCount();
            await openNotifications();
          },
        },
        'Mark all read',
      ),
      h('button', { onclick: closePanel, 'aria-label': 'Close notifications' }, '✕'),
    ),
    h(
      'ul',
      { 'data-testid': 'notif-list' },
      ...page.items.map((n: Notification) =>
        h(
          'li',
          {
            className: n.readAt ? '' : 'unread',
            tabindex: 0,
            onclick: () => void openConversation(n.conversationId),
          },
          h('div', {}, n.title),
          h('div', { className: 'preview' }, n.body),
        ),
      ),
    ),
  );
}

// ---- creating conversations ----------------------------------------------------

function openCreateDialog(type: 'direct' | 'group'): void {
  const chosen = new Map<string, PublicUser>();
  const search = h('input', { id: 'user-search', 'data-testid': 'user-search', placeholder: 'Name or e-mail' });
  const title = h('input', { id: 'group-title', 'data-testid': 'group-title' });
  const results = h('ul', { className: 'results', 'data-testid': 'user-results', 'aria-label': 'People found' });
  const searchStatus = h('p', { className: 'preview', role: 'status', 'data-testid': 'user-search-status' });
  const picked = h('p', { className: 'preview' });
  const error = h('p', { className: 'error', role: 'alert' });
  const dialog = h('dialog', { 'aria-label': type === 'direct' ? 'New direct conversation' : 'New group' });
  const create = async () => {
    error.textContent = '';
    try {
      const c = await client.conversations.create({
        type,
        memberIds: [...chosen.keys()],
        title: type === 'group' ? title.value || undefined : undefined,
      });
      dialog.close();
      dialog.remove();
      await reloadConversations();
      await openConversation(c.id);
    } catch (err) {
      error.textContent = errorText(err);
    }
  };
  const runSearch = debounce(async () => {
    const q = search.value.trim();
    clear(results);
    if (!q) {
      searchStatus.textContent = '';
      return;
    }
    searchStatus.textContent = 'Searching…';
    let found: PublicUser[];
    try {
      found = (await client.users.list({ query: q, limit: 10 })).items.filter((x) => x.id !== state.me?.id);
    } catch (err) {
      searchStatus.textContent = errorText(err);
      return;
    }
    if (search.value.trim() !== q) return; // a newer search is under way
    clear(results);
    searchStatus.textContent = found.length ? '' : `No one found for “${q}”.`;
    for (const u of found) {
      state.users.set(u.id, u);
      results.append(
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              'data-testid': 'user-result',
              onclick: () => {
                if (type === 'direct') chosen.clear();
                chosen.set(u.id, u);
                picked.textContent = `With: ${[...chosen.values()].map((x) => x.name).join(', ')}`;
                if (type === 'direct') void create();
              },
            },
            u.name,
          ),
        ),
      );
    }
  }, 200);
  search.addEventListener('input', () => runSearch());
  append(
    dialog,
    h('h2', {}, type === 'direct' ? 'New direct conversation' : 'New group'),
    type === 'group' ? h('label', { for: 'group-title' }, 'Title') : null,
    type === 'group' ? title : null,
    h('label', { for: 'user-search' }, 'Find people'),
    search,
    searchStatus,
    results,
    picked,
    error,
    h(
      'div',
      { className: 'row' },
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            dialog.close();
            dialog.remove();
          },
        },
        'Cancel',
      ),
      type === 'group'
        ? h(
            'button',
            { type: 'button', className: 'primary', 'data-testid': 'group-create', onclick: () => void create() },
            'Create',
          )
        : null,
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  search.focus();
}

// ---- realtime -------------------------------------------------------------------

function connectRealtime(): void {
  const rt = client.realtime({ queueStore: localStorageQueue() });
  state.rt = rt;
  const showBanner = () => {
    const queued = rt.queued.length;
    const waiting = queued
      ? ` ${queued} message${queued === 1 ? '' : 's'} queued, sent when the connection returns.`
      : '';
    const offline = rt.state !== 'open';
    offlineBanner.hidden = !offline && queued === 0;
    offlineBanner.textContent = !navigator.onLine
      ? `Offline: no network.${waiting}`
      : offline
        ? `Offline: reconnecting…${waiting}`
        : `Sending ${queued} queued message${queued === 1 ? '' : 's'}…`;
    offlineBanner.dataset.testid = 'offline-banner';
    offlineBanner.dataset.state = rt.state;
    // Queued bubbles say "queued" while the connection is away, "sending" once it is back.
    if (state.openId) renderMessages(false);
  };
  showBanner();
  rt.on('state', showBanner);
  rt.on('queue', showBanner);
  rt.on('ready', () => {
    showBanner();
    markRead(); // a read made while the connection was away was not sent
    void reloadConversations();
    void refreshNotifCount();
  });
  rt.on('unauthorized', () => renderAuth('Your session ended. Please log in again.'));
  rt.on('sent', ({ message }) => upsertMessage(message));
  rt.on('failed', ({ clientMessageId }) => {
    const bubble = state.messages.get(`local-${clientMessageId}`);
    if (bubble) {
      bubble.local = 'failed';
      renderMessages(false);
    }
  });
  const onMessage = ({ message }: { message: Message }) => {
    const conv = state.conversations.find((c) => c.id === message.conversationId);
    if (message.conversationId === state.openId) {
      upsertMessage(message);
      if (message.senderId !== state.me?.id) {
        rt.delivered(message.conversationId, message.seq);
        markRead();
      }
      // Their message arrived, so they stopped typing (their 'stop' may have been throttled away).
      if (message.senderId && state.typing.has(message.senderId)) {
        clearTimeout(state.typing.get(message.senderId));
        renderTyping(message.senderId, false);
      }
    } else if (message.senderId && message.senderId !== state.me?.id) {
      rt.delivered(message.conversationId, message.seq);
      if (conv?.me) conv.me.unreadCount += 1;
    }
    if (conv) {
      conv.lastMessage = {
        id: message.id,
        seq: message.seq,
        senderId: message.senderId,
        type: message.type,
        content: message.content,
        createdAt: message.createdAt,
      };
      state.conversations = [conv, ...state.conversations.filter((c) => c !== conv)];
      void renderConversationList();
    }
    reloadConversationsSoon();
  };
  rt.on('message.created', onMessage);
  rt.on('message.updated', ({ message }) => upsertMessage(message));
  rt.on('message.deleted', ({ message }) => upsertMessage(message));
  rt.on('typing', ({ conversationId, userId, state: s }) => {
    if (conversationId !== state.openId || userId === state.me?.id) return;
    const prev = state.typing.get(userId);
    if (prev) clearTimeout(prev);
    if (s === 'start')
      state.typing.set(
        userId,
        setTimeout(() => renderTyping(userId, false), 5000),
      );
    else state.typing.delete(userId);
    renderTyping(userId, s === 'start');
  });
  rt.on('receipt', ({ conversationId, userId, kind, seq }) => {
    if (userId === state.me?.id) return;
    const map = kind === 'read' ? state.readUpTo : state.deliveredUpTo;
    map.set(conversationId, Math.max(map.get(conversationId) ?? 0, seq));
    if (kind === 'read')
      state.deliveredUpTo.set(conversationId, Math.max(state.deliveredUpTo.get(conversationId) ?? 0, seq));
    if (conversationId === state.openId) renderMessages(false);
  });
  rt.on('presence', ({ userId, status }) => {
    state.presence.set(userId, status);
    renderChatHeader();
    void renderConversationList();
  });
  rt.on('notification.created', ({ notification }) => {
    // About the conversation being read right now: it is read on arrival, so only recount.
    if (notification.conversationId !== state.openId || document.hidden) {
      state.notifUnread += 1;
      renderNotifBadge();
    }
    refreshNotifCountSoon();
  });
  rt.on('member.added', () => reloadConversationsSoon());
  rt.on('member.removed', () => reloadConversationsSoon());
  rt.on('conversation.updated', () => reloadConversationsSoon());
  rt.on('resync', ({ conversationId }) => {
    if (conversationId === state.openId) void openConversation(conversationId);
  });
}

function renderTyping(userId: string, on: boolean): void {
  if (!on) state.typing.delete(userId);
  const names = [...state.typing.keys()].map((id) => nameOf(id));
  typingLine.textContent = names.length ? `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…` : '';
}

// A socket can outlive the network (browsers keep it open while offline, and
// a dead link is only noticed after two missed heartbeats): trust the
// browser's network events, drop the socket at once when the network goes and
// reconnect at once when it returns, without waiting out the backoff.
let networkDropped = false;
window.addEventListener('offline', () => {
  const rt = state.rt;
  if (!rt || rt.state === 'closed') return;
  rt.close();
  networkDropped = true;
});
window.addEventListener('online', () => {
  if (!state.rt || (!networkDropped && state.rt.state === 'closed')) return;
  networkDropped = false;
  state.rt.connect();
});

// ---- boot -------------------------------------------------------------------------

if (client.tokens) void startMain();
else renderAuth();
