import type { AnyEventEnvelope } from '@parley/contracts';
import { describe, expect, it } from 'vitest';
import { renderSystemText, systemMessageFor } from './system-text';

const A = '0190f3a2-7b1c-7d2e-8f00-00000000000a';
const B = '0190f3a2-7b1c-7d2e-8f00-00000000000b';
const C = '0190f3a2-7b1c-7d2e-8f00-00000000000c';
const conv = '0190f3a2-7b1c-7d2e-8f00-0000000000cc';
const at = '2026-01-01T00:00:00.000Z';
const fact = {
  id: conv,
  type: 'group' as const,
  title: 'Team',
  visibility: 'private' as const,
  status: 'open' as const,
  maxMembers: 50,
  memberCount: 2,
  metadata: {},
  createdBy: A,
  createdAt: at,
  updatedAt: at,
};
const member = (userId: string, state: 'active' | 'banned' = 'active') => ({
  userId,
  role: 'member' as const,
  state,
  notifications: 'all' as const,
  joinedAt: at,
});
const ev = (type: string, data: unknown) =>
  ({ id: C, type, version: 1, occurredAt: at, producer: 'conversation', data }) as AnyEventEnvelope;
const names = new Map([
  [A, 'Ada'],
  [B, 'Grace'],
]);
const text = (e: AnyEventEnvelope) => {
  const d = systemMessageFor(e);
  return d ? [d.system.event, renderSystemText(d, names), d.system.targetIds] : null;
};

describe('system message text', () => {
  it('describes lifecycle events with names', () => {
    expect(
      text(ev('conversation.created', { conversation: fact, members: [member(A), member(B)], actorId: A })),
    ).toEqual(['created', 'Ada created "Team" with Grace', [B]]);
    expect(
      text(
        ev('member.added', { conversationId: conv, conversation: fact, member: member(B), actorId: A, via: 'added' }),
      ),
    ).toEqual(['member_added', 'Ada added Grace', [B]]);
    expect(
      text(
        ev('member.added', { conversationId: conv, conversation: fact, member: member(B), actorId: B, via: 'joined' }),
      ),
    ).toEqual(['member_joined', 'Grace joined', [B]]);
    expect(text(ev('member.removed', { conversationId: conv, userId: B, actorId: A, reason: 'removed' }))).toEqual([
      'member_removed',
      'Ada removed Grace',
      [B],
    ]);
    expect(
      text(ev('member.removed', { conversationId: conv, userId: C, actorId: null, reason: 'account_deleted' })),
    ).toEqual(['member_left', 'Someone left', [C]]);
  });

  it('only writes for changes people care about', () => {
    const previous = { role: 'member', state: 'active', notifications: 'all' };
    expect(
      text(
        ev('member.updated', { conversationId: conv, member: { ...member(B), role: 'admin' }, previous, actorId: A }),
      ),
    ).toBeNull();
    expect(
      text(ev('member.updated', { conversationId: conv, member: member(B, 'banned'), previous, actorId: A }))?.[1],
    ).toBe('Ada banned Grace');
    const updated = (changedFields: string[], title: string | null, change = 'updated') =>
      ev('conversation.updated', {
        conversation: { ...fact, title },
        change,
        changedFields,
        previous: { title: 'Team', status: 'open' },
        actorId: A,
      });
    expect(text(updated(['metadata'], 'Team'))).toBeNull();
    expect(text(updated(['title'], 'Crew'))?.[1]).toBe('Ada renamed the conversation to "Crew"');
    expect(text(updated(['title'], null))?.[1]).toBe('Ada removed the conversation title');
    expect(text(updated(['status'], 'Team', 'closed'))?.[1]).toBe('Ada closed the conversation');
    expect(text(ev('message.created', {}))).toBeNull();
  });
});
