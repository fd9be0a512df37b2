import type { Message } from '@parley/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, eventually, type Harness, type TestUser } from '../helper';

let h: Harness;
let ada: TestUser;
let grace: TestUser;
let alan: TestUser;

beforeAll(async () => {
  h = await build();
  ada = await h.makeUser('Ada');
  grace = await h.makeUser('Grace');
  alan = await h.makeUser('Alan');
});
afterAll(async () => {
  await h?.close();
});

const list = async (user: TestUser, c: string) => {
  const res = await h.app.inject({
    method: 'GET',
    url: `/v1/conversations/${c}/messages?after=0&limit=200`,
    headers: user.auth,
  });
  return (res.json() as { items: Message[] }).items;
};

describe('system messages', () => {
  it('writes one readable system message per lifecycle event', async () => {
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [grace.id], title: 'Engines' })).id;
    await h.world.addMember(c, alan.id, ada.id);
    await h.world.rename(c, 'Analytical Engines', ada.id);
    await h.world.updateMember(c, alan.id, { state: 'banned' }, ada.id);
    await h.world.updateMember(c, alan.id, { state: 'active' }, ada.id);
    await h.world.removeMember(c, alan.id, grace.id);
    await h.world.removeMember(c, grace.id, grace.id);
    await h.world.setStatus(c, 'closed', ada.id);
    await h.world.setStatus(c, 'open', ada.id);
    await h.world.setStatus(c, 'archived', ada.id);

    const expected = [
      ['created', 'Ada created "Engines" with Grace', ada.id, [grace.id]],
      ['member_added', 'Ada added Alan', ada.id, [alan.id]],
      ['title_changed', 'Ada renamed the conversation to "Analytical Engines"', ada.id, []],
      ['member_banned', 'Ada banned Alan', ada.id, [alan.id]],
      ['member_unbanned', 'Ada unbanned Alan', ada.id, [alan.id]],
      ['member_removed', 'Grace removed Alan', grace.id, [alan.id]],
      ['member_left', 'Grace left', grace.id, [grace.id]],
      ['closed', 'Ada closed the conversation', ada.id, []],
      ['reopened', 'Ada reopened the conversation', ada.id, []],
      ['archived', 'Ada archived the conversation', ada.id, []],
    ];
    const items = await eventually(async () => {
      const got = await list(ada, c);
      expect(got).toHaveLength(expected.length);
      return got;
    });
    // Two consumers write them (conversation.* and member.*), so order across the two domains may vary.
    const seen = items.map((m) => [m.system?.event, m.content, m.system?.actorId, m.system?.targetIds]);
    expect(seen).toEqual(expect.arrayContaining(expected));
    for (const m of items) {
      expect(m).toMatchObject({ type: 'system', senderId: null, clientMessageId: null, mentions: [] });
    }
    expect(items.map((m) => m.seq)).toEqual(items.map((_, i) => i + 1));
    // Never unread.
    const read = await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${c}/read`,
      headers: ada.auth,
      payload: { seq: 0 },
    });
    expect(read.json()).toEqual({ lastReadSeq: 0, unreadCount: 0 });
  });

  it('writes a system message exactly once when its event is delivered again', async () => {
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [grace.id], publish: false })).id;
    const event = await h.publish('member.added', {
      conversationId: c,
      conversation: h.world.conversation(c),
      member: {
        userId: alan.id,
        role: 'member',
        state: 'active',
        notifications: 'all',
        joinedAt: new Date().toISOString(),
      },
      actorId: ada.id,
      via: 'added',
    });
    await eventually(async () => expect(await list(ada, c)).toHaveLength(1));
    await h.republish(event);
    await h.republish(event);
    const marker = await h.publish('member.removed', {
      conversationId: c,
      userId: alan.id,
      actorId: alan.id,
      reason: 'left',
    });
    // Once the later event is handled, the redeliveries before it were too (one consumer, stream order).
    const items = await eventually(async () => {
      const got = await list(ada, c);
      expect(got.map((m) => m.system?.event)).toContain('member_left');
      return got;
    });
    expect(items.map((m) => m.content)).toEqual(['Ada added Alan', 'Alan left']);
    expect(marker.id).not.toBe(event.id);
    // The stream really holds the event three times (the redeliveries were not de-duplicated away).
    const seen: string[] = [];
    const probe = await h.infra.bus.consume(
      { stream: 'conversation', durable: 'test-probe', filter: `member.${c}.added` },
      async (d) => {
        seen.push(d.event.id);
      },
    );
    await eventually(() => expect(seen).toEqual([event.id, event.id, event.id]));
    await probe.stop();
    await eventually(() =>
      expect(h.events.filter((e) => e.type === 'message.created' && e.data.message.conversationId === c)).toHaveLength(
        2,
      ),
    );
  });
});

describe('account deletion', () => {
  it("tombstones the user's messages with new revs and drops their markers", async () => {
    const zed = await h.makeUser('Zed');
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [zed.id], publish: false })).id;
    const z1 = await h.send(zed, c, 'z1', {
      type: 'file',
      attachments: [{ url: 'https://x.example/f', name: 'f', mimeType: 'text/plain', size: 3 }],
    });
    const a1 = await h.send(ada, c, 'a1 @Zed');
    const z2 = await h.send(zed, c, 'z2');
    await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${c}/read`,
      headers: zed.auth,
      payload: { seq: a1.seq },
    });
    const before = await h.app.inject({ method: 'GET', url: `/v1/messages/${a1.id}/receipts`, headers: ada.auth });
    expect((before.json() as { readBy: unknown[] }).readBy).toHaveLength(1);

    const deleted = await h.publish('user.deleted', { userId: zed.id, deletedAt: new Date().toISOString() });
    const items = await eventually(async () => {
      const got = await list(ada, c);
      expect(got.filter((m) => m.senderId === zed.id).every((m) => m.deletedAt !== null)).toBe(true);
      return got;
    });
    const tomb = items.filter((m) => m.senderId === zed.id);
    expect(tomb.map((m) => m.id)).toEqual([z1.id, z2.id]);
    for (const m of tomb) expect(m).toMatchObject({ content: '', attachments: [], mentions: [] });
    expect(Math.min(...tomb.map((m) => m.rev))).toBeGreaterThan(z2.rev);
    expect(items.find((m) => m.id === a1.id)?.content).toBe('a1 @Zed');

    const after = await h.app.inject({ method: 'GET', url: `/v1/messages/${a1.id}/receipts`, headers: ada.auth });
    expect(after.json()).toEqual({ deliveredTo: [], readBy: [] });
    await eventually(() =>
      expect(
        h.events
          .filter((e) => e.type === 'message.deleted' && e.data.message.senderId === zed.id)
          .map((e) => (e.data as { message: Message }).message.id),
      ).toEqual([z1.id, z2.id]),
    );
    // Applying it again changes nothing.
    const revs = tomb.map((m) => m.rev);
    await h.republish(deleted);
    const marker = await h.publish('user.updated', {
      user: { id: zed.id, name: 'Zombie', avatarUrl: null, statusText: null, createdAt: new Date().toISOString() },
    });
    expect(marker.type).toBe('user.updated');
    await new Promise((r) => setTimeout(r, 500));
    const again = (await list(ada, c)).filter((m) => m.senderId === zed.id);
    expect(again.map((m) => m.rev)).toEqual(revs);
  });
});
