/**
 * Plain domain records of the conversation service (what repositories return
 * and services work with; never ORM rows), and their mapping to the contract
 * shapes of the API and of events.
 */
import type {
  Conversation,
  ConversationFact,
  ConversationStatus,
  ConversationType,
  LastMessagePreview,
  Member,
  MemberFact,
  MemberRole,
  MemberState,
  NotificationPreference,
  Visibility,
} from '@parley/contracts';

export interface PreviewRecord {
  id: string;
  seq: number;
  rev: number;
  senderId: string | null;
  type: string;
  content: string;
  createdAt: string;
}

export interface ConversationRecord {
  id: string;
  type: ConversationType;
  title: string | null;
  visibility: Visibility;
  status: ConversationStatus;
  maxMembers: number;
  memberCount: number;
  metadata: Record<string, unknown>;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  directKey: string | null;
  lastActivityAt: Date;
  lastMessageAt: Date | null;
  lastSeq: number;
  lastRev: number;
  lastMessage: PreviewRecord | null;
}

export interface MemberRecord {
  conversationId: string;
  userId: string;
  role: MemberRole;
  state: MemberState;
  notifications: NotificationPreference;
  joinedAt: Date;
  lastReadSeq: number;
}

/** A conversation as one user sees it: their membership and unread count. */
export interface ConversationForUser {
  conversation: ConversationRecord;
  member: MemberRecord | null;
  unreadCount: number;
}

export interface UserRecord {
  id: string;
  name: string;
  avatarUrl: string | null;
  statusText: string | null;
  createdAt: Date;
}

export const PREVIEW_MAX_CHARS = 200;

export function toConversationFact(c: ConversationRecord): ConversationFact {
  return {
    id: c.id,
    type: c.type,
    title: c.title,
    visibility: c.visibility,
    status: c.status,
    maxMembers: c.maxMembers,
    memberCount: c.memberCount,
    metadata: c.metadata,
    createdBy: c.createdBy,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

export function toMemberFact(m: MemberRecord): MemberFact {
  return {
    userId: m.userId,
    role: m.role,
    state: m.state,
    notifications: m.notifications,
    joinedAt: m.joinedAt.toISOString(),
  };
}

export function toMember(m: MemberRecord, names?: Map<string, string>): Member {
  const name = names?.get(m.userId);
  return {
    userId: m.userId,
    role: m.role,
    state: m.state,
    joinedAt: m.joinedAt.toISOString(),
    lastReadSeq: m.lastReadSeq,
    ...(name ? { name } : {}),
  };
}

function toPreview(p: PreviewRecord | null): LastMessagePreview | null {
  if (!p) return null;
  return {
    id: p.id,
    seq: p.seq,
    senderId: p.senderId,
    type: p.type,
    content: p.content,
    createdAt: p.createdAt,
  };
}

export function toConversation(v: ConversationForUser): Conversation {
  const c = v.conversation;
  const m = v.member && v.member.state !== 'banned' ? v.member : null;
  return {
    ...toConversationFact(c),
    lastMessageAt: c.lastMessageAt ? c.lastMessageAt.toISOString() : null,
    lastSeq: c.lastSeq,
    lastMessage: toPreview(c.lastMessage),
    me: m
      ? {
          role: m.role,
          state: m.state,
          notifications: m.notifications,
          lastReadSeq: m.lastReadSeq,
          unreadCount: v.unreadCount,
        }
      : null,
  };
}

/** Active and muted members count; banned ones were removed. */
export const isPresent = (m: { state: MemberState }) => m.state !== 'banned';
