/**
 * Who is notified of a message, with which kind, and what the notification
 * says. Pure functions: no I/O, so every rule is unit-tested directly.
 */
import type { Message, NotificationKind } from '@parley/contracts';

export type MemberState = 'active' | 'muted' | 'banned' | 'removed';
export type Preference = 'all' | 'mentions' | 'none';

export interface MemberView {
  userId: string;
  state: MemberState;
  preference: Preference;
}

export interface Recipient {
  userId: string;
  kind: NotificationKind;
}

/** Muted members still read (a mute limits sending); banned and removed ones are gone. */
export function canBeNotified(member: MemberView): boolean {
  return member.state === 'active' || member.state === 'muted';
}

const MENTION_ALL_RE = /(^|[^\p{L}\p{N}_@])@all(?![\p{L}\p{N}_])/u;

/** `@all` as a token of its own (not `@alls`, not `a@all.com`). */
export function mentionsAll(content: string): boolean {
  return MENTION_ALL_RE.test(content);
}

export interface MessageFacts {
  message: Pick<Message, 'type' | 'senderId' | 'mentions' | 'content' | 'system' | 'deletedAt'>;
  conversationType: 'direct' | 'group';
  /** Sender of the message this one replies to (`parentId`), when known. */
  parentSenderId: string | null;
}

/**
 * One recipient per member except the sender, following each member's
 * preference: `all`; `mentions` (mentions of them, `@all`, replies to their
 * messages); `none`. A system message notifies only the members named in
 * its `targetIds` (never the actor of the change), with kind `system`.
 */
export function planRecipients(facts: MessageFacts, members: MemberView[]): Recipient[] {
  const { message } = facts;
  if (message.deletedAt) return [];
  const recipients: Recipient[] = [];
  const seen = new Set<string>();

  if (message.type === 'system') {
    const targets = new Set(message.system?.targetIds ?? []);
    const actorId = message.system?.actorId ?? null;
    for (const m of members) {
      if (seen.has(m.userId) || !targets.has(m.userId) || m.userId === actorId) continue;
      if (!canBeNotified(m) || m.preference === 'none') continue;
      seen.add(m.userId);
      recipients.push({ userId: m.userId, kind: 'system' });
    }
    return recipients;
  }

  const mentioned = new Set(message.mentions);
  const everyone = facts.conversationType === 'group' && mentionsAll(message.content);
  for (const m of members) {
    if (seen.has(m.userId) || m.userId === message.senderId || !canBeNotified(m)) continue;
    const kind: NotificationKind =
      everyone || mentioned.has(m.userId) ? 'mention' : facts.parentSenderId === m.userId ? 'reply' : 'message';
    if (m.preference === 'none') continue;
    if (m.preference === 'mentions' && kind === 'message') continue;
    seen.add(m.userId);
    recipients.push({ userId: m.userId, kind });
  }
  return recipients;
}

/**
 * Edits notify at most once per message per interval. Times are the edits'
 * own `editedAt`, so redelivery and replays decide the same way; an edit
 * older than the last notified one (out of order) never notifies.
 */
export function shouldNotifyEdit(lastNotifiedAt: Date | null, editedAt: Date, intervalMs: number): boolean {
  if (!lastNotifiedAt) return true;
  return editedAt.getTime() - lastNotifiedAt.getTime() >= intervalMs;
}

/** Whitespace collapsed, cut at `max` characters (code points, never half a surrogate pair) with an ellipsis. */
export function previewOf(content: string, max: number): string {
  const flat = content.replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat);
  if (chars.length <= max) return flat;
  return `${chars
    .slice(0, max - 1)
    .join('')
    .trimEnd()}…`;
}

export interface TextFacts {
  kind: NotificationKind;
  senderName: string | null;
  conversationType: 'direct' | 'group';
  conversationTitle: string | null;
  message: Pick<Message, 'content' | 'attachments' | 'type'>;
  previewChars: number;
}

/** A readable title and body: "Ada mentioned you in Team" / "see you at 5". */
export function notificationText(f: TextFacts): { title: string; body: string } {
  const sender = f.senderName?.trim() || 'Someone';
  const where = f.conversationType === 'group' ? ` in ${f.conversationTitle?.trim() || 'a group'}` : '';
  let title: string;
  switch (f.kind) {
    case 'mention':
      title = `${sender} mentioned you${where}`;
      break;
    case 'reply':
      title = `${sender} replied to you${where}`;
      break;
    case 'edit':
      title = `${sender} edited a message${where}`;
      break;
    case 'system':
      title = f.conversationTitle?.trim() || (f.conversationType === 'group' ? 'Group update' : 'Conversation update');
      break;
    default:
      title = f.conversationType === 'group' ? `${sender}${where}` : sender;
  }
  let body = previewOf(f.message.content, f.previewChars);
  if (!body && f.message.attachments.length > 0) {
    const [first] = f.message.attachments;
    body =
      f.message.attachments.length === 1 ? `Sent ${first.name}` : `Sent ${f.message.attachments.length} attachments`;
    body = previewOf(body, f.previewChars);
  }
  return { title, body };
}
