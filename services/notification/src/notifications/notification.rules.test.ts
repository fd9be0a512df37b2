import { describe, expect, it } from 'vitest';
import {
  type MemberView,
  type MessageFacts,
  mentionsAll,
  notificationText,
  planRecipients,
  previewOf,
  shouldNotifyEdit,
} from './notification.rules';

const [sender, ada, bob, cy, dee, eve] = ['s', 'a', 'b', 'c', 'd', 'e'].map(
  (c) => `0190f3a2-7b1c-7d2e-8f00-${c.repeat(12)}`,
);

const member = (userId: string, over: Partial<MemberView> = {}): MemberView => ({
  userId,
  state: 'active',
  preference: 'all',
  ...over,
});

const text = (over: Partial<MessageFacts['message']> = {}, rest: Partial<MessageFacts> = {}): MessageFacts => ({
  message: { type: 'text', senderId: sender, mentions: [], content: 'hello', system: null, deletedAt: null, ...over },
  conversationType: 'group',
  parentSenderId: null,
  ...rest,
});

describe('planRecipients', () => {
  it('notifies every member but the sender of a plain message', () => {
    const got = planRecipients(text(), [member(sender), member(ada), member(bob), member(cy), member(dee)]);
    expect(got).toEqual([ada, bob, cy, dee].map((userId) => ({ userId, kind: 'message' })));
  });

  it('notifies muted members but never banned or removed ones', () => {
    const got = planRecipients(text(), [
      member(ada, { state: 'muted' }),
      member(bob, { state: 'banned' }),
      member(cy, { state: 'removed' }),
    ]);
    expect(got).toEqual([{ userId: ada, kind: 'message' }]);
  });

  it('gives `mentions` members only mentions, @all and replies to them; `none` nothing', () => {
    const members = [
      member(ada, { preference: 'mentions' }),
      member(bob, { preference: 'mentions' }),
      member(cy, { preference: 'none' }),
      member(dee, { preference: 'mentions' }),
    ];
    expect(planRecipients(text(), members)).toEqual([]);
    expect(planRecipients(text({ mentions: [ada, cy] }), members)).toEqual([{ userId: ada, kind: 'mention' }]);
    expect(planRecipients(text({}, { parentSenderId: bob }), members)).toEqual([{ userId: bob, kind: 'reply' }]);
    expect(planRecipients(text({ content: 'hey @all, lunch?' }), members)).toEqual([
      { userId: ada, kind: 'mention' },
      { userId: bob, kind: 'mention' },
      { userId: dee, kind: 'mention' },
    ]);
  });

  it('prefers mention over reply, and reply over message', () => {
    const got = planRecipients(text({ mentions: [ada] }, { parentSenderId: ada }), [member(ada), member(bob)]);
    expect(got).toEqual([
      { userId: ada, kind: 'mention' },
      { userId: bob, kind: 'message' },
    ]);
    expect(planRecipients(text({}, { parentSenderId: bob }), [member(bob)])).toEqual([{ userId: bob, kind: 'reply' }]);
  });

  it('ignores @all in direct conversations (there is only one other member anyway)', () => {
    const got = planRecipients(text({ content: '@all' }, { conversationType: 'direct' }), [
      member(ada, { preference: 'mentions' }),
    ]);
    expect(got).toEqual([]);
  });

  it('notifies only the targets of a system message, never its actor, with kind system', () => {
    const facts = text({
      type: 'system',
      senderId: null,
      content: 'Ada added Bob and Cy',
      system: { event: 'member_added', actorId: ada, targetIds: [ada, bob, cy, eve] },
    });
    const got = planRecipients(facts, [
      member(ada),
      member(bob),
      member(cy, { preference: 'none' }),
      member(dee),
      member(eve, { state: 'removed' }),
    ]);
    expect(got).toEqual([{ userId: bob, kind: 'system' }]);
  });

  it('notifies no one of a message that is already deleted', () => {
    expect(planRecipients(text({ deletedAt: new Date().toISOString() }), [member(ada)])).toEqual([]);
  });
});

describe('mentionsAll', () => {
  it('matches @all as a token only', () => {
    expect(mentionsAll('@all')).toBe(true);
    expect(mentionsAll('hi @all!')).toBe(true);
    expect(mentionsAll('(@all)')).toBe(true);
    expect(mentionsAll('@alls')).toBe(false);
    expect(mentionsAll('mail me at x@all.com')).toBe(false);
    expect(mentionsAll('all of you')).toBe(false);
  });
});

describe('shouldNotifyEdit', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  it('notifies the first edit, then at most once per interval', () => {
    expect(shouldNotifyEdit(null, t0, 60_000)).toBe(true);
    expect(shouldNotifyEdit(t0, new Date(t0.getTime() + 59_999), 60_000)).toBe(false);
    expect(shouldNotifyEdit(t0, new Date(t0.getTime() + 60_000), 60_000)).toBe(true);
  });
  it('never notifies an edit older than the last notified one', () => {
    expect(shouldNotifyEdit(t0, new Date(t0.getTime() - 120_000), 60_000)).toBe(false);
  });
});

describe('previewOf and notificationText', () => {
  it('collapses whitespace and truncates on code points', () => {
    expect(previewOf('  a\n\n b  ', 10)).toBe('a b');
    expect(previewOf('😀😀😀😀😀', 3)).toBe('😀😀…');
    expect(Array.from(previewOf('x'.repeat(500), 140))).toHaveLength(140);
  });

  it('writes readable titles per kind', () => {
    const base = {
      senderName: 'Ada',
      conversationType: 'group' as const,
      conversationTitle: 'Team',
      message: { content: 'see you at 5', attachments: [], type: 'text' as const },
      previewChars: 140,
    };
    expect(notificationText({ ...base, kind: 'message' })).toEqual({ title: 'Ada in Team', body: 'see you at 5' });
    expect(notificationText({ ...base, kind: 'mention' }).title).toBe('Ada mentioned you in Team');
    expect(notificationText({ ...base, kind: 'reply' }).title).toBe('Ada replied to you in Team');
    expect(notificationText({ ...base, kind: 'edit' }).title).toBe('Ada edited a message in Team');
    expect(notificationText({ ...base, kind: 'system' }).title).toBe('Team');
    expect(notificationText({ ...base, kind: 'message', conversationType: 'direct', senderName: null }).title).toBe(
      'Someone',
    );
  });

  it('describes attachments when there is no text', () => {
    const got = notificationText({
      kind: 'message',
      senderName: 'Ada',
      conversationType: 'direct',
      conversationTitle: null,
      message: {
        content: '',
        type: 'file',
        attachments: [{ url: 'https://x.test/a.pdf', name: 'a.pdf', mimeType: 'application/pdf', size: 3 }],
      },
      previewChars: 140,
    });
    expect(got.body).toBe('Sent a.pdf');
  });
});
