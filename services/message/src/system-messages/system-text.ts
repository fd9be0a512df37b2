/**
 * What a conversation lifecycle event says as a system message: which event
 * (`system.event`), who did it, whom it names, and a readable sentence with
 * user names ("Ada added Grace"). Pure: the caller resolves names.
 */
import type { AnyEventEnvelope, SystemEvent, SystemInfo } from '@parley/contracts';

export interface SystemMessageDraft {
  conversationId: string;
  system: SystemInfo;
  /** Conversation title for events about it (created, title_changed). */
  title: string | null;
  conversationType: 'direct' | 'group' | null;
}

/** The system message a conversation-stream event calls for, or null (role changes, mutes, metadata edits...). */
export function systemMessageFor(event: AnyEventEnvelope): SystemMessageDraft | null {
  const draft = (
    conversationId: string,
    ev: SystemEvent,
    actorId: string | null,
    targetIds: string[],
    title: string | null = null,
    conversationType: 'direct' | 'group' | null = null,
  ): SystemMessageDraft => ({
    conversationId,
    system: { event: ev, actorId, targetIds },
    title,
    conversationType,
  });

  switch (event.type) {
    case 'conversation.created': {
      const { conversation, members, actorId } = event.data;
      const others = members.filter((m) => m.userId !== actorId).map((m) => m.userId);
      return draft(conversation.id, 'created', actorId, others, conversation.title, conversation.type);
    }
    case 'conversation.updated': {
      const { conversation, change, changedFields, previous, actorId } = event.data;
      if (change === 'closed') return draft(conversation.id, 'closed', actorId, []);
      if (change === 'archived') return draft(conversation.id, 'archived', actorId, []);
      if (change === 'reopened') return draft(conversation.id, 'reopened', actorId, []);
      if (changedFields.includes('title') && conversation.title !== previous.title) {
        return draft(conversation.id, 'title_changed', actorId, [], conversation.title, conversation.type);
      }
      return null;
    }
    case 'member.added': {
      const { conversationId, member, actorId, via } = event.data;
      return via === 'joined'
        ? draft(conversationId, 'member_joined', member.userId, [member.userId])
        : draft(conversationId, 'member_added', actorId, [member.userId]);
    }
    case 'member.updated': {
      const { conversationId, member, previous, actorId } = event.data;
      if (member.state === 'banned' && previous.state !== 'banned') {
        return draft(conversationId, 'member_banned', actorId, [member.userId]);
      }
      if (previous.state === 'banned' && member.state !== 'banned') {
        return draft(conversationId, 'member_unbanned', actorId, [member.userId]);
      }
      return null;
    }
    case 'member.removed': {
      const { conversationId, userId, actorId, reason } = event.data;
      if (reason === 'removed' && actorId && actorId !== userId) {
        return draft(conversationId, 'member_removed', actorId, [userId]);
      }
      return draft(conversationId, 'member_left', userId, [userId]);
    }
    default:
      return null;
  }
}

/** Ids whose names the sentence needs. */
export function namesNeeded(d: SystemMessageDraft): string[] {
  const ids = new Set<string>(d.system.targetIds);
  if (d.system.actorId) ids.add(d.system.actorId);
  return [...ids];
}

export const UNKNOWN_NAME = 'Someone';

function list(names: string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length <= 4) return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  return `${names.slice(0, 3).join(', ')} and ${names.length - 3} others`;
}

/** The readable sentence, e.g. "Ada added Grace". Unknown ids read as "Someone". */
export function renderSystemText(d: SystemMessageDraft, names: ReadonlyMap<string, string>): string {
  const name = (id: string | null) => (id ? (names.get(id) ?? UNKNOWN_NAME) : UNKNOWN_NAME);
  const actor = name(d.system.actorId);
  const targets = list(d.system.targetIds.map((id) => name(id)));
  const quoted = d.title ? `"${d.title}"` : null;
  switch (d.system.event) {
    case 'created':
      if (d.conversationType === 'direct') return `${actor} started the conversation`;
      return `${actor} created ${quoted ?? 'the group'}${targets ? ` with ${targets}` : ''}`;
    case 'member_added':
      return `${actor} added ${targets}`;
    case 'member_joined':
      return `${targets} joined`;
    case 'member_left':
      return `${targets} left`;
    case 'member_removed':
      return `${actor} removed ${targets}`;
    case 'member_banned':
      return `${actor} banned ${targets}`;
    case 'member_unbanned':
      return `${actor} unbanned ${targets}`;
    case 'title_changed':
      return quoted ? `${actor} renamed the conversation to ${quoted}` : `${actor} removed the conversation title`;
    case 'closed':
      return d.system.actorId ? `${actor} closed the conversation` : 'The conversation was closed';
    case 'archived':
      return d.system.actorId ? `${actor} archived the conversation` : 'The conversation was archived';
    case 'reopened':
      return d.system.actorId ? `${actor} reopened the conversation` : 'The conversation was reopened';
  }
}
