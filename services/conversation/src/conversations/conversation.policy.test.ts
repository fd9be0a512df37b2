import { describe, expect, it } from 'vitest';
import {
  checkAddMembers,
  checkEditConversation,
  checkJoin,
  checkRemove,
  checkTransition,
  checkUpdateMember,
  directKeyOf,
  pickNextOwner,
} from './conversation.policy';

const group = { type: 'group' as const, status: 'open' as const, memberCount: 3 };
const owner = { userId: 'o', role: 'owner' as const, state: 'active' as const };
const admin = { userId: 'a', role: 'admin' as const, state: 'active' as const };
const admin2 = { userId: 'a2', role: 'admin' as const, state: 'active' as const };
const member = { userId: 'm', role: 'member' as const, state: 'active' as const };

describe('managing a conversation', () => {
  it('lets owners and admins edit, and forbids members', () => {
    expect(checkEditConversation(group, owner)).toBeNull();
    expect(checkEditConversation(group, admin)).toBeNull();
    expect(checkEditConversation(group, member)?.kind).toBe('forbidden');
  });

  it('refuses edits of an archived conversation', () => {
    expect(checkEditConversation({ ...group, status: 'archived' }, owner)?.kind).toBe('conflict');
  });
});

describe('lifecycle', () => {
  it('allows open -> closed -> archived -> open', () => {
    expect(checkTransition(group, owner, 'close')).toBeNull();
    expect(checkTransition({ ...group, status: 'closed' }, owner, 'archive')).toBeNull();
    expect(checkTransition({ ...group, status: 'archived' }, admin, 'reopen')).toBeNull();
    expect(checkTransition({ ...group, status: 'closed' }, admin, 'reopen')).toBeNull();
  });

  it('answers conflict for transitions from the wrong status', () => {
    expect(checkTransition({ ...group, status: 'closed' }, owner, 'close')?.kind).toBe('conflict');
    expect(checkTransition({ ...group, status: 'archived' }, owner, 'close')?.kind).toBe('conflict');
    expect(checkTransition({ ...group, status: 'archived' }, owner, 'archive')?.kind).toBe('conflict');
    expect(checkTransition(group, owner, 'reopen')?.kind).toBe('conflict');
  });

  it('forbids members to close', () => {
    expect(checkTransition(group, member, 'close')?.kind).toBe('forbidden');
  });

  it('keeps a direct conversation whose other member is gone closed', () => {
    const direct = { type: 'direct' as const, status: 'closed' as const, memberCount: 1 };
    expect(checkTransition(direct, owner, 'reopen')?.kind).toBe('conflict');
    expect(checkTransition({ ...direct, memberCount: 2 }, owner, 'reopen')).toBeNull();
  });
});

describe('membership changes', () => {
  it('lets owners and admins add, not members; never to a direct or closed conversation', () => {
    expect(checkAddMembers(group, admin)).toBeNull();
    expect(checkAddMembers(group, member)?.kind).toBe('forbidden');
    expect(checkAddMembers({ type: 'direct', status: 'open' }, owner)?.kind).toBe('conflict');
    expect(checkAddMembers({ ...group, status: 'closed' }, owner)?.kind).toBe('conflict');
  });

  it('lets anyone leave a group, but nobody leave a direct conversation', () => {
    expect(checkRemove(group, member, member)).toBeNull();
    expect(checkRemove(group, owner, owner)).toBeNull();
    expect(checkRemove({ type: 'direct', status: 'open' }, owner, owner)?.kind).toBe('forbidden');
  });

  it('forbids a member to remove anyone and an admin to remove the owner or another admin', () => {
    expect(checkRemove(group, member, admin)?.kind).toBe('forbidden');
    expect(checkRemove(group, admin, owner)?.kind).toBe('forbidden');
    expect(checkRemove(group, admin, admin2)?.kind).toBe('forbidden');
    expect(checkRemove(group, admin, member)).toBeNull();
    expect(checkRemove(group, owner, admin)).toBeNull();
  });

  it('lets only owners make owners, and admins promote members to admin', () => {
    expect(checkUpdateMember(group, admin, member, { role: 'owner' }, 1)?.kind).toBe('forbidden');
    expect(checkUpdateMember(group, admin, member, { role: 'admin' }, 1)).toBeNull();
    expect(checkUpdateMember(group, owner, member, { role: 'owner' }, 1)).toBeNull();
    expect(checkUpdateMember(group, member, member, { role: 'admin' }, 1)?.kind).toBe('forbidden');
  });

  it('forbids an admin to demote or ban the owner', () => {
    expect(checkUpdateMember(group, admin, owner, { role: 'member' }, 0)?.kind).toBe('forbidden');
    expect(checkUpdateMember(group, admin, owner, { state: 'banned' }, 0)?.kind).toBe('forbidden');
  });

  it('keeps at least one owner', () => {
    expect(checkUpdateMember(group, owner, owner, { role: 'member' }, 0)?.kind).toBe('conflict');
    expect(checkUpdateMember(group, owner, owner, { role: 'member' }, 1)).toBeNull();
    const other = { ...owner, userId: 'o2' };
    expect(checkUpdateMember(group, owner, other, { state: 'banned' }, 0)?.kind).toBe('conflict');
    expect(checkUpdateMember(group, owner, other, { state: 'banned' }, 1)).toBeNull();
  });

  it('forbids changing your own state', () => {
    expect(checkUpdateMember(group, owner, owner, { state: 'muted' }, 1)?.kind).toBe('forbidden');
  });

  it('lets an admin mute, ban and unban members', () => {
    expect(checkUpdateMember(group, admin, member, { state: 'muted' }, 1)).toBeNull();
    expect(checkUpdateMember(group, admin, member, { state: 'banned' }, 1)).toBeNull();
    expect(checkUpdateMember(group, admin, { ...member, state: 'banned' }, { state: 'active' }, 1)).toBeNull();
  });
});

describe('joining', () => {
  const pub = { type: 'group' as const, status: 'open' as const, visibility: 'public' as const };
  it('lets anyone join an open public group, not a private one, a closed one or when banned', () => {
    expect(checkJoin(pub, null)).toBeNull();
    expect(checkJoin({ ...pub, visibility: 'private' }, null)?.kind).toBe('forbidden');
    expect(checkJoin({ ...pub, status: 'closed' }, null)?.kind).toBe('conflict');
    expect(checkJoin(pub, { ...member, state: 'banned' })?.kind).toBe('forbidden');
  });
});

describe('ownership hand-over', () => {
  const at = (s: number) => new Date(1_700_000_000_000 + s * 1000);
  it('picks the longest-standing admin, else the longest-standing member', () => {
    const rest = [
      { userId: 'm1', role: 'member' as const, state: 'active' as const, joinedAt: at(1) },
      { userId: 'a2', role: 'admin' as const, state: 'active' as const, joinedAt: at(3) },
      { userId: 'a1', role: 'admin' as const, state: 'muted' as const, joinedAt: at(2) },
    ];
    expect(pickNextOwner(rest)?.userId).toBe('a1');
    expect(pickNextOwner(rest.filter((m) => m.role === 'member'))?.userId).toBe('m1');
  });

  it('picks nobody while an owner remains, and never a banned user', () => {
    expect(pickNextOwner([{ userId: 'o', role: 'owner', state: 'active', joinedAt: at(5) }])).toBeNull();
    expect(pickNextOwner([{ userId: 'b', role: 'admin', state: 'banned', joinedAt: at(1) }])).toBeNull();
  });
});

describe('direct key', () => {
  it('is the same for both orders of a pair', () => {
    expect(directKeyOf('b', 'a')).toBe(directKeyOf('a', 'b'));
    expect(directKeyOf('A', 'b')).toBe('a:b');
  });
});
