import { describe, expect, it } from 'vitest';
import { type Access, type Action, decide } from './membership.policy';

const conv = (patch: Partial<NonNullable<Access['conversation']>> = {}) => ({
  id: 'c',
  type: 'group' as const,
  visibility: 'private' as const,
  status: 'open' as const,
  title: null,
  ...patch,
});
const member = (patch: Partial<NonNullable<Access['member']>> = {}) => ({
  userId: 'u',
  role: 'member' as const,
  state: 'active' as const,
  ...patch,
});
const code = (a: Access, action: Action) => decide(a, action)?.code ?? 'ok';

describe('membership policy', () => {
  it('hides private conversations from non-members on every action', () => {
    for (const action of ['read', 'send', 'mark', 'delete-own', 'moderate'] as const) {
      expect(code({ conversation: conv(), member: null }, action)).toBe('not_found');
      expect(code({ conversation: conv(), member: member({ state: 'banned' }) }, action)).toBe('not_found');
      expect(code({ conversation: conv(), member: member({ state: 'removed' }) }, action)).toBe('not_found');
      expect(code({ conversation: null, member: null }, action)).toBe('not_found');
    }
  });

  it('lets only active members of open conversations send', () => {
    expect(code({ conversation: conv(), member: member() }, 'send')).toBe('ok');
    expect(code({ conversation: conv(), member: member({ state: 'muted' }) }, 'send')).toBe('forbidden');
    expect(code({ conversation: conv({ status: 'closed' }), member: member() }, 'send')).toBe('conflict');
    expect(code({ conversation: conv({ status: 'archived' }), member: member() }, 'send')).toBe('conflict');
    expect(code({ conversation: conv({ visibility: 'public' }), member: null }, 'send')).toBe('forbidden');
  });

  it('lets members read and mark whatever the status, and anyone read a public group', () => {
    const archived = conv({ status: 'archived' });
    expect(code({ conversation: archived, member: member({ state: 'muted' }) }, 'read')).toBe('ok');
    expect(code({ conversation: archived, member: member({ state: 'muted' }) }, 'mark')).toBe('ok');
    expect(code({ conversation: conv({ visibility: 'public' }), member: null }, 'read')).toBe('ok');
    expect(code({ conversation: conv({ visibility: 'public' }), member: null }, 'mark')).toBe('forbidden');
    expect(code({ conversation: conv({ visibility: 'public' }), member: member({ state: 'banned' }) }, 'read')).toBe(
      'forbidden',
    );
  });

  it('lets active owners and admins moderate unless archived', () => {
    expect(code({ conversation: conv(), member: member({ role: 'admin' }) }, 'moderate')).toBe('ok');
    expect(code({ conversation: conv(), member: member({ role: 'owner' }) }, 'moderate')).toBe('ok');
    expect(code({ conversation: conv(), member: member() }, 'moderate')).toBe('forbidden');
    expect(code({ conversation: conv(), member: member({ role: 'admin', state: 'muted' }) }, 'moderate')).toBe(
      'forbidden',
    );
    expect(code({ conversation: conv({ status: 'archived' }), member: member({ role: 'owner' }) }, 'moderate')).toBe(
      'conflict',
    );
    expect(code({ conversation: conv({ status: 'closed' }), member: member({ state: 'muted' }) }, 'delete-own')).toBe(
      'ok',
    );
  });
});
