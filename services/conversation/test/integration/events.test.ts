/**
 * Events in and out, against real Postgres and NATS JetStream:
 * - every change publishes exactly one event (recorded by a test durable
 *   consumer and compared with the list of changes made);
 * - the message read model (previews, lastSeq, unread counts, read markers,
 *   activity order) follows the message service's events;
 * - `user.deleted` removes the user everywhere, deletes emptied
 *   conversations, closes direct ones, hands ownership on, idempotently.
 */
import type { AnyEventEnvelope, Conversation, EventType } from '@parley/contracts';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirect, makeGroup } from '../factories/conversations';
import { makeMessage } from '../factories/messages';
import { type Harness, type TestUser, as, build, eventually } from '../helper';

let h: Harness;
beforeAll(async () => {
  h = await build();
});
afterAll(async () => {
  await h?.close();
});

const req = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', user: TestUser, url: string, payload?: object) =>
  h.app.inject({ method, url, headers: as(user), ...(payload ? { payload } : {}) });

/** Events recorded about one conversation, as `type` strings in order. */
function eventsOf(conversationId: string): AnyEventEnvelope[] {
  return h.events.filter((e) => {
    const d = e.data as { conversationId?: string; conversation?: { id: string } };
    return d.conversationId === conversationId || d.conversation?.id === conversationId;
  });
}

describe('every change publishes exactly one event', () => {
  it('for each kind of change, and none for no-ops or refusals', async () => {
    const ada = await h.makeUser('Ada');
    const grace = await h.makeUser('Grace');
    const carol = await h.makeUser('Carol');
    const dan = await h.makeUser('Dan');
    const expected: EventType[] = [];
    const step = async (
      type: EventType | null,
      method: 'POST' | 'PATCH' | 'DELETE',
      user: TestUser,
      url: string,
      payload?: object,
    ) => {
      const res = await req(method, user, url, payload);
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(500);
      if (type) expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
      if (type) expected.push(type);
      return res;
    };

    const created = await step('conversation.created', 'POST', ada, '/v1/conversations', {
      type: 'group',
      title: 'Events',
      memberIds: [grace.id],
      visibility: 'public',
    });
    const id = created.json().id as string;
    const base = `/v1/conversations/${id}`;
    await step('conversation.updated', 'PATCH', ada, base, { title: 'Events 2' });
    await step(null, 'PATCH', ada, base, { title: 'Events 2' }); // no change
    await step('member.added', 'POST', ada, `${base}/members`, { userIds: [carol.id] });
    await step(null, 'POST', ada, `${base}/members`, { userIds: [carol.id] }); // already a member
    await step('member.added', 'POST', dan, `${base}/join`);
    await step('member.updated', 'PATCH', ada, `${base}/members/${grace.id}`, { role: 'admin' });
    await step('member.updated', 'PATCH', ada, `${base}/members/${carol.id}`, { state: 'muted' });
    await step('member.updated', 'PATCH', carol, `${base}/members/me`, { notifications: 'none' });
    await step(null, 'PATCH', carol, `${base}/members/me`, { notifications: 'none' }); // no change
    await step(null, 'POST', carol, `${base}/close`); // refused: 403
    await step('conversation.updated', 'POST', ada, `${base}/close`);
    await step('conversation.updated', 'POST', ada, `${base}/reopen`);
    await step('member.updated', 'PATCH', grace, `${base}/members/${dan.id}`, { state: 'banned' });
    await step('member.removed', 'DELETE', grace, `${base}/members/${carol.id}`);
    // The last owner leaves: removal, then the hand-over to the admin.
    await step('member.removed', 'DELETE', ada, `${base}/members/me`);
    expected.push('member.updated');
    await step('conversation.updated', 'POST', grace, `${base}/archive`);
    // The last member leaves: removal, then the deletion of the emptied conversation.
    await step('member.removed', 'DELETE', grace, `${base}/members/${grace.id}`);
    expected.push('conversation.deleted');

    await h.settle();
    // The relay keeps order per subject only (conversation.* and member.* are
    // different subjects), so compare as multisets, then look up by kind.
    const got = eventsOf(id);
    expect(got.map((e) => e.type).sort()).toEqual([...expected].sort());
    expect(new Set(got.map((e) => e.id)).size).toBe(got.length);

    // Payloads say what changed and who did it.
    const createdEvent = got.find((e) => e.type === 'conversation.created')!;
    expect(createdEvent.data).toMatchObject({ actorId: ada.id, conversation: { id, title: 'Events' } });
    expect((createdEvent.data as { members: unknown[] }).members).toHaveLength(2);
    const updates = got.filter((e) => e.type === 'conversation.updated').map((e) => e.data);
    expect(updates[0]).toMatchObject({ change: 'updated', changedFields: ['title'], previous: { title: 'Events' } });
    expect(updates.map((u) => (u as { change: string }).change)).toEqual(['updated', 'closed', 'reopened', 'archived']);
    expect(
      got.find((e) => e.type === 'member.added' && (e.data as { via: string }).via === 'joined')?.data,
    ).toMatchObject({ member: { userId: dan.id }, actorId: dan.id });
    const handOver = got.filter((e) => e.type === 'member.updated').at(-1)!;
    expect(handOver.data).toMatchObject({ member: { userId: grace.id, role: 'owner' }, previous: { role: 'admin' } });
    expect(got.find((e) => e.type === 'conversation.deleted')!.data).toMatchObject({
      conversationId: id,
      reason: 'empty',
    });
    const removals = got.filter((e) => e.type === 'member.removed').map((e) => e.data);
    expect(removals).toEqual([
      expect.objectContaining({ userId: carol.id, reason: 'removed', actorId: grace.id }),
      expect.objectContaining({ userId: ada.id, reason: 'left' }),
      expect.objectContaining({ userId: grace.id, reason: 'left' }),
    ]);
  });

  it('carries the initial members in conversation.created of a direct conversation, once under concurrency', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    await Promise.all(Array.from({ length: 10 }, () => makeDirect(h, ada, grace)));
    const conv = await makeDirect(h, grace, ada);
    await h.settle();
    const got = eventsOf(conv.id);
    expect(got.map((e) => e.type)).toEqual(['conversation.created']);
    const members = (got[0]!.data as { members: { userId: string; role: string }[] }).members;
    expect(members.map((m) => m.userId).sort()).toEqual([ada.id, grace.id].sort());
  });
});

describe('message read model', () => {
  it('shows the latest message, lastSeq and exact unread counts from message events', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    const conv = await makeGroup(h, ada, [grace]);
    const m1 = makeMessage(conv.id, 1, { senderId: ada.id });
    const m2 = makeMessage(conv.id, 2, { senderId: grace.id });
    const m3 = makeMessage(conv.id, 3, { senderId: grace.id, content: 'x'.repeat(500) });
    const m4 = makeMessage(conv.id, 4, { senderId: null, type: 'system', content: 'Ada added Bob' });
    for (const m of [m1, m2, m3, m4]) await h.publish('message.created', { message: m });

    const view = await eventually(async () => {
      const v: Conversation = (await req('GET', ada, `/v1/conversations/${conv.id}`)).json();
      expect(v.lastSeq).toBe(4);
      return v;
    });
    // Ada: two of Grace's messages (her own and the system one do not count).
    expect(view.me?.unreadCount).toBe(2);
    expect(view.lastMessageAt).toBe(m4.createdAt);
    const graceView: Conversation = (await req('GET', grace, `/v1/conversations/${conv.id}`)).json();
    expect(graceView.me?.unreadCount).toBe(1);

    // A deleted message no longer counts; an edit out of order is applied by rev.
    await h.publish('message.deleted', {
      message: { ...m2, rev: 5, content: '', deletedAt: new Date().toISOString() },
      deletedBy: grace.id,
    });
    await eventually(async () => {
      const v: Conversation = (await req('GET', ada, `/v1/conversations/${conv.id}`)).json();
      expect(v.me?.unreadCount).toBe(1);
    });

    // Reading moves the marker; it never moves back.
    await h.publish('receipt.read', { conversationId: conv.id, userId: ada.id, seq: 3, at: new Date().toISOString() });
    await h.publish('receipt.read', { conversationId: conv.id, userId: ada.id, seq: 1, at: new Date().toISOString() });
    await eventually(async () => {
      const v: Conversation = (await req('GET', ada, `/v1/conversations/${conv.id}`)).json();
      expect(v.me).toMatchObject({ lastReadSeq: 3, unreadCount: 0 });
    });
    const members = (await req('GET', ada, `/v1/conversations/${conv.id}/members`)).json();
    expect(members.items.find((m: { userId: string }) => m.userId === ada.id).lastReadSeq).toBe(3);
  });

  it('lists by latest activity (system messages included) with the preview', async () => {
    const ada = await h.makeUser();
    const older = await makeGroup(h, ada, [], { title: 'older' });
    const newer = await makeGroup(h, ada, [], { title: 'newer' });
    const sys = makeMessage(older.id, 1, {
      senderId: null,
      type: 'system',
      content: 'Ada renamed the group',
      createdAt: new Date(Date.now() + 1000).toISOString(),
    });
    await h.publish('message.created', { message: sys });
    await eventually(async () => {
      const list = (await req('GET', ada, '/v1/conversations')).json();
      expect(list.items.map((c: Conversation) => c.id).slice(0, 2)).toEqual([older.id, newer.id]);
      expect(list.items[0].lastMessage).toMatchObject({ id: sys.id, seq: 1, type: 'system', senderId: null });
    });
    // Long contents are cut to a preview.
    const long = makeMessage(newer.id, 1, { senderId: ada.id, content: 'y'.repeat(1000) });
    await h.publish('message.created', { message: long });
    await eventually(async () => {
      const v: Conversation = (await req('GET', ada, `/v1/conversations/${newer.id}`)).json();
      expect(v.lastMessage?.content.length).toBe(200);
    });
  });

  it('waits for the caller’s own latest write recorded by the message service', async () => {
    const ada = await h.makeUser();
    const conv = await makeGroup(h, ada, [], { title: 'rw' });
    const msg = makeMessage(conv.id, 1, { senderId: ada.id, rev: 1 });
    await h.infra.kv.set(`rw:${ada.id}:${conv.id}`, JSON.stringify({ rev: 1 }), { ttlMs: 60_000 });
    // Published after the watermark, as the message service does after its commit.
    const publishing = h.publish('message.created', { message: msg });
    const view: Conversation = (await req('GET', ada, `/v1/conversations/${conv.id}`)).json();
    await publishing;
    expect(view.lastSeq).toBe(1);
  });
});

describe('user.deleted', () => {
  it('removes the user everywhere, deletes emptied groups, closes directs, hands ownership on', async () => {
    const gone = await h.makeUser('Gone');
    const ada = await h.makeUser('Ada');
    const bob = await h.makeUser('Bob');
    const solo = await makeGroup(h, gone, [], { title: 'solo' });
    const owned = await makeGroup(h, gone, [ada, bob], { title: 'owned' });
    await req('PATCH', gone, `/v1/conversations/${owned.id}/members/${bob.id}`, { role: 'admin' });
    const direct = await makeDirect(h, gone, ada);
    const joined = await makeGroup(h, ada, [gone], { title: 'joined' });
    await h.settle();
    const before = h.events.length;

    h.forgetUser(gone.id);
    const event = await h.publish('user.deleted', { userId: gone.id, deletedAt: new Date().toISOString() });

    await eventually(async () => {
      expect((await req('GET', ada, `/v1/conversations/${solo.id}`)).statusCode).toBe(404);
      const d: Conversation = (await req('GET', ada, `/v1/conversations/${direct.id}`)).json();
      expect(d.status).toBe('closed');
      expect(d.memberCount).toBe(1);
    });
    const ownedMembers = (await req('GET', ada, `/v1/conversations/${owned.id}/members`)).json().items;
    expect(ownedMembers.map((m: { userId: string; role: string }) => [m.userId, m.role]).sort()).toEqual(
      [
        [ada.id, 'member'],
        [bob.id, 'owner'],
      ].sort(),
    );
    const joinedView: Conversation = (await req('GET', ada, `/v1/conversations/${joined.id}`)).json();
    expect(joinedView.memberCount).toBe(1);

    await h.settle();
    const caused = h.events.slice(before);
    const summary = caused.map(
      (e) =>
        `${e.type}:${(e.data as { reason?: string; change?: string }).reason ?? (e.data as { change?: string }).change ?? ''}`,
    );
    expect(summary.sort()).toEqual(
      [
        'member.removed:account_deleted', // solo
        'conversation.deleted:empty',
        'member.removed:account_deleted', // owned
        'member.updated:', // bob becomes owner
        'member.removed:account_deleted', // direct
        'conversation.updated:closed',
        'member.removed:account_deleted', // joined
      ].sort(),
    );

    // A deleted user cannot be added again, even by id, and the direct stays closed.
    const readd = await req('POST', ada, `/v1/conversations/${joined.id}/members`, { userIds: [gone.id] });
    expect(readd.statusCode).toBe(400);
    expect(readd.json().error.details[0].field).toBe('userIds');
    expect((await req('POST', ada, `/v1/conversations/${direct.id}/reopen`)).statusCode).toBe(409);

    // Delivered again (e.g. after the dedupe window): nothing more happens.
    await h.infra.bus.publishDurable(`user.${gone.id}.deleted`, { ...event, id: event.id.replace(/.$/, '0') });
    await h.publish('user.deleted', { userId: gone.id, deletedAt: new Date().toISOString() });
    await h.settle();
    expect(h.events.length).toBe(before + caused.length);
  });

  it('is complete when the event arrives after the service was down', async () => {
    const gone = await h.makeUser('Late');
    const ada = await h.makeUser('Ada');
    const conv = await makeGroup(h, gone, [ada]);
    await h.settle();
    // The service stops; the deletion happens meanwhile; a new instance starts on the same infra.
    await h.app.close();
    h.forgetUser(gone.id);
    await h.publish('user.deleted', { userId: gone.id, deletedAt: new Date().toISOString() });
    const { buildApp } = await import('../../src/app');
    h.app = await buildApp(h.config, h.infra);
    await eventually(async () => {
      const members = (await req('GET', ada, `/v1/conversations/${conv.id}/members`)).json().items;
      expect(members.map((m: { userId: string; role: string }) => [m.userId, m.role])).toEqual([[ada.id, 'owner']]);
    });
  });

  it('finishes at start a deletion that a crash interrupted after the tombstone', async () => {
    const gone = await h.makeUser('Crashed');
    const ada = await h.makeUser('Ada');
    const conv = await makeGroup(h, ada, [gone]);
    await h.app.close();
    // What an interrupted deletion leaves behind: the tombstone committed, memberships not yet removed.
    await h.infra.db.rows(sql`update conversation.users set deleted_at = now() where id = ${gone.id}`);
    const { buildApp } = await import('../../src/app');
    h.app = await buildApp(h.config, h.infra);
    const members = (await req('GET', ada, `/v1/conversations/${conv.id}/members`)).json().items;
    expect(members.map((m: { userId: string }) => m.userId)).toEqual([ada.id]);
  });
});
