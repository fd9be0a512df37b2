/**
 * Who may do what in a conversation, decided from the local membership model
 * (API.md, Messages): pure, so the same rules answer from the model and,
 * before a refusal, from the owner's fresh answer.
 *
 * - A private conversation does not exist for anyone who is not in it (404).
 * - `read`: members (active or muted), and anyone for a public group.
 * - `send` (also edit): an active member of an open conversation; 409 when
 *   closed or archived, 403 when muted, banned or not a member of a public group.
 * - `mark` (read/delivered markers): members, whatever the status.
 * - `moderate` (delete someone else's message): an active owner or admin of a
 *   conversation that is not archived.
 * - `delete-own`: a member (active or muted) of a conversation that is not archived.
 */

export type ConversationStatus = 'open' | 'closed' | 'archived';
export type MemberState = 'active' | 'muted' | 'banned' | 'removed';
export type MemberRole = 'owner' | 'admin' | 'member';

export interface ConversationModel {
  id: string;
  type: 'direct' | 'group';
  visibility: 'private' | 'public';
  status: ConversationStatus;
  title: string | null;
}

export interface MemberModel {
  userId: string;
  role: MemberRole;
  state: MemberState;
}

export interface Access {
  conversation: ConversationModel | null;
  member: MemberModel | null;
}

export type Action = 'read' | 'send' | 'mark' | 'delete-own' | 'moderate';

export type Refusal =
  | { code: 'not_found'; message: string }
  | { code: 'forbidden'; message: string }
  | { code: 'conflict'; message: string };

const notFound: Refusal = { code: 'not_found', message: 'conversation not found' };

export function isPresent(member: MemberModel | null): member is MemberModel {
  return member !== null && (member.state === 'active' || member.state === 'muted');
}

/** Null when allowed, else why not. */
export function decide(access: Access, action: Action): Refusal | null {
  const { conversation, member } = access;
  if (!conversation) return notFound;
  const present = isPresent(member);
  if (!present && conversation.visibility === 'private') return notFound;

  switch (action) {
    case 'read':
      if (member?.state === 'banned') return { code: 'forbidden', message: 'you are banned from this conversation' };
      return null;
    case 'mark':
      return present ? null : { code: 'forbidden', message: 'you are not a member of this conversation' };
    case 'send':
      if (conversation.status !== 'open')
        return { code: 'conflict', message: `the conversation is ${conversation.status}` };
      if (!present) return { code: 'forbidden', message: 'you are not a member of this conversation' };
      if (member.state === 'muted') return { code: 'forbidden', message: 'you are muted in this conversation' };
      return null;
    case 'delete-own':
      if (conversation.status === 'archived') return { code: 'conflict', message: 'the conversation is archived' };
      return present ? null : { code: 'forbidden', message: 'you are not a member of this conversation' };
    case 'moderate':
      if (conversation.status === 'archived') return { code: 'conflict', message: 'the conversation is archived' };
      if (present && member.state === 'active' && (member.role === 'owner' || member.role === 'admin')) return null;
      return { code: 'forbidden', message: 'only the sender or an owner or admin may do this' };
  }
}
