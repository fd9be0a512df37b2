/**
 * The permission and lifecycle rules of conversations, as pure functions over
 * plain values (no I/O), so every rule is unit-tested on its own and the
 * service only asks "may this actor do that?".
 *
 * Roles rank owner > admin > member. Decisions taken here (README, Rules):
 * - owners and admins manage (edit, close/archive/reopen, add, remove,
 *   change roles and states); members may only leave and set their own
 *   notification preference;
 * - an actor manages only members ranked strictly below them, except that an
 *   owner manages everyone including other owners (so an admin can neither
 *   remove, ban nor demote an owner or another admin);
 * - only owners make owners; an admin may promote a member to admin;
 * - nobody changes their own state; an owner may demote themselves only
 *   while another owner remains (a leaving last owner hands ownership on);
 * - direct conversations have fixed members: no adds, joins, removals,
 *   leaves, role or state changes.
 */
import type { ConversationStatus, MemberRole, MemberState } from '@parley/contracts';

export const RANK: Record<MemberRole, number> = { owner: 3, admin: 2, member: 1 };

export type Denial =
  | { kind: 'forbidden'; message: string }
  | { kind: 'conflict'; message: string }
  | { kind: 'invalid'; field: string; message: string };
export type Decision = Denial | null;

const forbidden = (message: string): Denial => ({ kind: 'forbidden', message });
const conflict = (message: string): Denial => ({ kind: 'conflict', message });

export interface ActorView {
  userId: string;
  role: MemberRole;
  state: MemberState;
}

export interface TargetView {
  userId: string;
  role: MemberRole;
  state: MemberState;
}

export interface ConversationView {
  type: 'direct' | 'group';
  status: ConversationStatus;
}

/** Owners and admins manage a conversation. */
export function canManage(actor: ActorView): boolean {
  return actor.role === 'owner' || actor.role === 'admin';
}

/** Editing title, visibility, limits or metadata. */
export function checkEditConversation(conv: ConversationView, actor: ActorView): Decision {
  if (!canManage(actor)) return forbidden('only owners and admins may change the conversation');
  if (conv.status === 'archived') return conflict('conversation is archived');
  return null;
}

export type LifecycleAction = 'close' | 'archive' | 'reopen';

/** Status reached by each action, and from which statuses it is allowed. */
export const TRANSITIONS: Record<LifecycleAction, { from: ConversationStatus[]; to: ConversationStatus }> = {
  close: { from: ['open'], to: 'closed' },
  archive: { from: ['open', 'closed'], to: 'archived' },
  reopen: { from: ['closed', 'archived'], to: 'open' },
};

export function checkTransition(
  conv: ConversationView & { memberCount: number },
  actor: ActorView,
  action: LifecycleAction,
): Decision {
  if (!canManage(actor)) return forbidden(`only owners and admins may ${action} the conversation`);
  if (!TRANSITIONS[action].from.includes(conv.status)) {
    return conflict(`cannot ${action} a conversation that is ${conv.status}`);
  }
  if (action === 'reopen' && conv.type === 'direct' && conv.memberCount < 2) {
    return conflict('the other member of this direct conversation is gone');
  }
  return null;
}

/** Adding members (the caller checks limits and bans with the rows locked). */
export function checkAddMembers(conv: ConversationView, actor: ActorView): Decision {
  if (conv.type === 'direct') return conflict('direct conversations have exactly two members');
  if (!canManage(actor)) return forbidden('only owners and admins may add members');
  if (conv.status !== 'open') return conflict(`conversation is ${conv.status}`);
  return null;
}

/** Joining a public group by oneself. */
export function checkJoin(
  conv: ConversationView & { visibility: 'private' | 'public' },
  existing: TargetView | null,
): Decision {
  if (conv.type !== 'group' || conv.visibility !== 'public') return forbidden('only public groups can be joined');
  if (existing?.state === 'banned') return forbidden('you are banned from this conversation');
  if (conv.status !== 'open') return conflict(`conversation is ${conv.status}`);
  return null;
}

/** Removing a member, or leaving when actor and target are the same user. */
export function checkRemove(conv: ConversationView, actor: ActorView, target: TargetView): Decision {
  if (conv.type === 'direct') return forbidden('members of a direct conversation cannot leave or be removed');
  if (actor.userId === target.userId) return null; // leaving is always allowed (ownership passes on)
  if (!canManage(actor)) return forbidden('only owners and admins may remove members');
  if (conv.status === 'archived') return conflict('conversation is archived');
  if (!outranks(actor, target)) return forbidden(`an ${actor.role} cannot remove an ${target.role}`);
  return null;
}

/** Owners act on everyone; others only on members ranked strictly below them. */
export function outranks(actor: ActorView, target: TargetView): boolean {
  if (actor.role === 'owner') return true;
  return RANK[actor.role] > RANK[target.role];
}

export interface MemberChange {
  role?: MemberRole;
  state?: MemberState;
}

/**
 * Changing a member's role or state. `ownersLeft` is the number of active or
 * muted owners other than the target (for the "at least one owner" rule).
 */
export function checkUpdateMember(
  conv: ConversationView,
  actor: ActorView,
  target: TargetView,
  change: MemberChange,
  ownersLeft: number,
): Decision {
  if (conv.type === 'direct') return forbidden('members of a direct conversation cannot be changed');
  if (!canManage(actor)) return forbidden('only owners and admins may change members');
  if (conv.status === 'archived') return conflict('conversation is archived');
  const self = actor.userId === target.userId;
  if (self && change.state !== undefined && change.state !== target.state) {
    return forbidden('you cannot change your own state');
  }
  if (!self && !outranks(actor, target)) return forbidden(`an ${actor.role} cannot change an ${target.role}`);
  if (change.role === 'owner' && actor.role !== 'owner') return forbidden('only owners can make owners');
  if (change.role !== undefined && RANK[change.role] > RANK[actor.role]) {
    return forbidden(`an ${actor.role} cannot grant ${change.role}`);
  }
  if (change.role !== undefined && target.state === 'banned' && change.state !== 'active' && change.state !== 'muted') {
    return conflict('a banned member has no role; unban them first');
  }
  const losesOwnership =
    target.role === 'owner' &&
    target.state !== 'banned' &&
    (change.state === 'banned' || (change.role ?? 'owner') !== 'owner');
  if (losesOwnership && ownersLeft === 0) return conflict('a conversation needs at least one owner');
  return null;
}

/**
 * Who becomes owner when the last owner goes: the longest-standing admin,
 * else the longest-standing member (banned ones excluded). Null when nobody
 * is left.
 */
export function pickNextOwner<T extends { userId: string; role: MemberRole; state: MemberState; joinedAt: Date }>(
  remaining: T[],
): T | null {
  const eligible = remaining.filter((m) => m.state !== 'banned');
  if (eligible.some((m) => m.role === 'owner')) return null;
  const byTenure = (a: T, b: T) =>
    a.joinedAt.getTime() - b.joinedAt.getTime() || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);
  const admins = eligible.filter((m) => m.role === 'admin').sort(byTenure);
  if (admins.length > 0) return admins[0]!;
  const rest = eligible.sort(byTenure);
  return rest[0] ?? null;
}

/** Sorted pair key that makes a direct conversation unique per unordered pair. */
export function directKeyOf(a: string, b: string): string {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()].sort();
  return `${x}:${y}`;
}
