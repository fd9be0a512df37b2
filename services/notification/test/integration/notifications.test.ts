/**
 * The notification service against real Postgres, NATS and Redis: events in
 * as the other services publish them, REST out through app.inject().
 */
import type { AnyEventEnvelope, Message, Notification, PublicUser } from '@parley/contracts';
import { natsStreamName, newId } from '@parley/service-kit';
import { requireServers, testServers } from '@parley/service-kit/testing';
import { sql } from 'drizzle-orm';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, setup, type TestContext } from '../helper';

await requireServers(['postgres', 'nats', 'redis']);

let t: TestContext;
/** notification.* events seen on the bus (core subscription, as a gateway would). */
const seen: { subject: string; data: unknown }[] = [];

beforeAll(async () => {
  t = await setup();
  t.infra.bus.subscribe('notification.>', (m) => {
    seen.push({ subject: m.subject, data: m.data });
  });
});
afterAll(async () => {
  await t?.close();
});

type Page = { items: Notification[]; nextCursor: string | null };

async function list(userId: string, query = ''): Promise<Page> {
  const res = await t.app.inject({ method: 'GET', url: `/v1/notifications${query}`, headers: await t.auth(userId) });
  expect(res.statusCode).toBe(200);
  return res.json() as Page;
}

async function unreadCount(userId: string): Promise<number> {
  const res = await t.app.inject({
    method: 'GET',
    url: '/v1/notifications/unread-count',
    headers: await t.auth(userId),
  });
  expect(res.statusCode).toBe(200);
  return (res.json() as { count: number }).count;
}

const ofMessage = (page: Page, messageId: string) => page.items.filter((n) => n.messageId === messageId);

/** Waits until `userId` has `n` notifications of the message (bounded), and returns them. */
async function awaitNotifications(userId: string, messageId: string, n = 1): Promise<Notification[]> {
  const page = await eventually(
    () => list(userId, '?limit=200'),
    (p) => ofMessage(p, messageId).length >= n,
  );
  return ofMessage(page, messageId);
}

/** Waits until the service's membership read model shows the member in `state`. */
async function awaitMemberState(conversationId: string, userId: string, state: string, preference?: string) {
  const rows = await eventually(
    () =>
      t.infra.db.rows<{ state: string; preference: string }>(
        sql`select state, preference from notification.members where conversation_id = ${conversationId} and user_id = ${userId}`,
      ),
    (r) => r[0]?.state === state && (!preference || r[0]?.preference === preference),
  );
  expect(rows[0]?.state).toBe(state);
}

function users(...names: string[]): PublicUser[] {
  return names.map((n) => t.directory.makeUser(n));
}

async function group(
  owner: PublicUser,
  others: PublicUser[],
  opts?: Parameters<TestContext['directory']['makeGroup']>[2],
) {
  for (const u of [owner, ...others]) await t.publish('user.created', { user: u });
  const created = t.directory.makeGroup(owner, others, opts);
  await t.publish('conversation.created', created);
  return created.conversation.id;
}

async function send(conversationId: string, senderId: string, over: Partial<Message> = {}) {
  const message = t.directory.makeMessage(conversationId, senderId, over);
  const event = await t.publish('message.created', { message });
  return { message, event };
}

describe('new messages', () => {
  it('a message in a group of 5 creates 4 notifications, one per member but the sender, announced live', async () => {
    const [ada, bob, cy, dee, eve] = users('Ada', 'Bob', 'Cy', 'Dee', 'Eve');
    const conv = await group(ada, [bob, cy, dee, eve]);
    const { message } = await send(conv, ada.id, { content: 'Standup   in\n5 minutes' });

    for (const u of [bob, cy, dee, eve]) {
      const got = await awaitNotifications(u.id, message.id);
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({
        userId: u.id,
        kind: 'message',
        conversationId: conv,
        messageId: message.id,
        title: 'Ada in Team',
        body: 'Standup in 5 minutes',
        readAt: null,
      });
      expect(await unreadCount(u.id)).toBe(1);
    }
    expect(ofMessage(await list(ada.id), message.id)).toHaveLength(0);

    const live = await eventually(
      async () =>
        seen.filter(
          (e) => (e.data as { data?: { notification?: Notification } }).data?.notification?.messageId === message.id,
        ),
      (l) => l.length >= 4,
    );
    expect(live.map((e) => e.subject).sort()).toEqual(
      [bob, cy, dee, eve].map((u) => `notification.${u.id}.created`).sort(),
    );
  });

  it('asks the conversation service for the members when it has not heard of the conversation yet', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    // No conversation.created published: only the owner knows the members.
    const conv = t.directory.makeGroup(ada, [bob], { title: 'Fresh' }).conversation.id;
    const before = t.directory.membersRequests;
    const { message } = await send(conv, ada.id);
    const got = await awaitNotifications(bob.id, message.id);
    expect(got).toHaveLength(1);
    expect(got[0]!.title).toBe('Ada in Fresh');
    expect(t.directory.membersRequests).toBeGreaterThan(before);
  });

  it('retries, rather than drops, a message whose members cannot be asked for yet', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = t.directory.makeGroup(ada, [bob], { title: 'Outage' }).conversation.id;
    const before = t.directory.membersRequests;
    t.directory.membersDown = true;
    try {
      const { message } = await send(conv, ada.id);
      await eventually(
        async () => t.directory.membersRequests,
        (n) => n > before,
      );
      expect((await list(bob.id)).items).toEqual([]);
      t.directory.membersDown = false;
      expect(await awaitNotifications(bob.id, message.id)).toHaveLength(1);
    } finally {
      t.directory.membersDown = false;
    }
  });

  it('follows preferences: `mentions` gets mentions, @all and replies to them; `none` gets nothing', async () => {
    const [ada, bob, cy, dee] = users('Ada', 'Bob', 'Cy', 'Dee');
    const conv = await group(ada, [bob, cy, dee], { preferences: {} });
    // Preferences changed after creation, as PATCH /members/me would.
    await t.publish('member.updated', t.directory.updateMember(conv, bob.id, { notifications: 'mentions' }, bob.id));
    await t.publish('member.updated', t.directory.updateMember(conv, cy.id, { notifications: 'none' }, cy.id));
    await awaitMemberState(conv, bob.id, 'active', 'mentions');
    await awaitMemberState(conv, cy.id, 'active', 'none');

    const plain = await send(conv, ada.id, { content: 'plain' });
    const mention = await send(conv, ada.id, { content: '@Bob @Cy look', mentions: [bob.id, cy.id] });
    const bobs = await send(conv, bob.id, { content: 'my question' });
    const reply = await send(conv, ada.id, {
      content: 'answer',
      parentId: bobs.message.id,
      threadRootId: bobs.message.id,
    });
    const everyone = await send(conv, ada.id, { content: 'hey @all' });

    // Dee (`all`) gets each of Ada's messages; once she has the last one, every earlier event was handled.
    await awaitNotifications(dee.id, everyone.message.id);
    const deeKinds = (await list(dee.id)).items.map((n) => [n.messageId, n.kind]);
    expect(deeKinds).toEqual(
      expect.arrayContaining([
        [plain.message.id, 'message'],
        [mention.message.id, 'message'],
        [bobs.message.id, 'message'],
        [reply.message.id, 'message'],
        [everyone.message.id, 'mention'],
      ]),
    );

    const bobGot = (await list(bob.id)).items.map((n) => [n.messageId, n.kind]);
    expect(bobGot.sort()).toEqual(
      [
        [mention.message.id, 'mention'],
        [reply.message.id, 'reply'],
        [everyone.message.id, 'mention'],
      ].sort(),
    );
    expect((await list(bob.id)).items.find((n) => n.kind === 'mention')?.title).toBe('Ada mentioned you in Team');
    expect((await list(cy.id)).items).toEqual([]);
  });

  it('notifies muted members, never banned, removed or departed ones', async () => {
    const [ada, bob, cy, dee, eve, fay] = users('Ada', 'Bob', 'Cy', 'Dee', 'Eve', 'Fay');
    const conv = await group(ada, [bob, cy, dee, eve, fay]);
    await t.publish('member.updated', t.directory.updateMember(conv, cy.id, { state: 'banned' }, ada.id));
    await t.publish('member.removed', t.directory.removeMember(conv, dee.id, 'left', dee.id));
    await t.publish('member.removed', t.directory.removeMember(conv, fay.id, 'removed', ada.id));
    await t.publish('member.updated', t.directory.updateMember(conv, eve.id, { state: 'muted' }, ada.id));
    await awaitMemberState(conv, cy.id, 'banned');
    await awaitMemberState(conv, dee.id, 'removed');
    await awaitMemberState(conv, fay.id, 'removed');
    await awaitMemberState(conv, eve.id, 'muted');

    const { message } = await send(conv, ada.id);
    expect(await awaitNotifications(bob.id, message.id)).toHaveLength(1);
    // One transaction inserts the whole batch: Bob's is there, so the others' fate is decided.
    expect(await awaitNotifications(eve.id, message.id)).toHaveLength(1);
    for (const u of [cy, dee, fay]) expect((await list(u.id)).items).toEqual([]);
  });

  it('notifies only the members a system message names, with kind system', async () => {
    const [ada, bob, cy] = users('Ada', 'Bob', 'Cy');
    const conv = await group(ada, [bob]);
    await t.publish('member.added', t.directory.addMember(conv, cy, ada.id));
    const { message } = await send(conv, null as unknown as string, {
      senderId: null,
      clientMessageId: null,
      type: 'system',
      content: 'Ada added Cy',
      system: { event: 'member_added', actorId: ada.id, targetIds: [cy.id] },
    });
    const got = await awaitNotifications(cy.id, message.id);
    expect(got[0]).toMatchObject({ kind: 'system', title: 'Team', body: 'Ada added Cy' });
    expect(ofMessage(await list(bob.id), message.id)).toEqual([]);
    expect(ofMessage(await list(ada.id), message.id)).toEqual([]);
  });
});

describe('exactly once', () => {
  async function consumerDelete(durable: string) {
    const nc = await connect({ servers: testServers().natsUrl });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.consumers.delete(natsStreamName(t.infra.busPrefix, 'MESSAGE'), durable);
    } finally {
      await nc.close();
    }
  }

  function announcedFor(messageId: string) {
    return seen.filter(
      (e) =>
        e.subject.endsWith('.created') &&
        (e.data as { data?: { notification?: Notification } }).data?.notification?.messageId === messageId,
    ).length;
  }

  it('leaves exactly one per recipient when the event is delivered again, even with the ledger lost', async () => {
    const [ada, bob, cy, dee, eve] = users('Ada', 'Bob', 'Cy', 'Dee', 'Eve');
    const conv = await group(ada, [bob, cy, dee, eve]);
    const { message, event } = await send(conv, ada.id);
    for (const u of [bob, cy, dee, eve]) await awaitNotifications(u.id, message.id);

    // 1. The producer publishes the same event again (outbox retry): same id.
    await t.republish(event);
    // 2. The same fact under a new event id (a retry beyond JetStream's de-duplication window).
    const copy: AnyEventEnvelope = { ...event, id: newId() };
    await t.republish(copy);
    // 3. The service dies after its insert committed but before the ack: the event comes again,
    //    here by replaying the whole stream into a recreated durable consumer...
    await t.app.close();
    await consumerDelete('notification-message-created');
    await t.restart();
    // ...and once more with the processed-events ledger wiped, so only the unique key stands guard.
    await t.app.close();
    await t.infra.db.rows(
      sql`delete from notification.processed_events where consumer = 'notification-message-created'`,
    );
    await consumerDelete('notification-message-created');
    await t.restart();

    // A later message in the same stream: once it is notified, the replays before it were handled.
    const { message: marker } = await send(conv, ada.id, { content: 'marker' });
    for (const u of [bob, cy, dee, eve]) {
      await awaitNotifications(u.id, marker.id);
      expect(ofMessage(await list(u.id), message.id)).toHaveLength(1);
    }
    const rows = await t.infra.db.rows<{ n: number }>(
      sql`select count(*)::int as n from notification.notifications where message_id = ${message.id}`,
    );
    expect(rows[0]!.n).toBe(4);
    expect(announcedFor(message.id)).toBe(4);
    // The wiped ledger has the event again: the replay really handled it a second time.
    const ledger = await t.infra.db.rows(
      sql`select 1 from notification.processed_events where consumer = 'notification-message-created' and event_id = ${event.id}`,
    );
    expect(ledger).toHaveLength(1);
  });
});

describe('read state', () => {
  it('reading the conversation up to a seq marks the notifications of those messages read', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = await group(ada, [bob]);
    const m1 = await send(conv, ada.id, { content: 'one' });
    const m2 = await send(conv, ada.id, { content: 'two' });
    const m3 = await send(conv, ada.id, { content: 'three' });
    await awaitNotifications(bob.id, m3.message.id);
    expect(await unreadCount(bob.id)).toBe(3);

    await t.publish('receipt.read', {
      conversationId: conv,
      userId: bob.id,
      seq: m2.message.seq,
      at: new Date().toISOString(),
    });
    const count = await eventually(
      () => unreadCount(bob.id),
      (n) => n === 1,
    );
    expect(count).toBe(1);
    const unread = await list(bob.id, '?unread=true');
    expect(unread.items.map((n) => n.messageId)).toEqual([m3.message.id]);
    const all = await list(bob.id);
    expect(all.items.find((n) => n.messageId === m1.message.id)?.readAt).not.toBeNull();
    const readEvent = await eventually(
      async () => seen.find((e) => e.subject === `notification.${bob.id}.read`),
      (e) => e !== undefined,
    );
    expect((readEvent!.data as { data: { notificationIds: string[] } }).data.notificationIds).toHaveLength(2);
  });

  it("marks one read (idempotently, only the caller's own) and all read, optionally per conversation", async () => {
    const [ada, bob, cy] = users('Ada', 'Bob', 'Cy');
    const c1 = await group(ada, [bob, cy], { title: 'One' });
    const c2 = await group(ada, [bob], { title: 'Two' });
    const a = await send(c1, ada.id);
    const b = await send(c1, ada.id);
    const c = await send(c2, ada.id);
    await awaitNotifications(bob.id, a.message.id);
    await awaitNotifications(bob.id, b.message.id);
    await awaitNotifications(bob.id, c.message.id);
    const [first] = await awaitNotifications(bob.id, a.message.id);

    const headers = await t.auth(bob.id);
    const once = await t.app.inject({ method: 'POST', url: `/v1/notifications/${first!.id}/read`, headers });
    expect(once.statusCode).toBe(200);
    expect((once.json() as Notification).readAt).not.toBeNull();
    const twice = await t.app.inject({ method: 'POST', url: `/v1/notifications/${first!.id}/read`, headers });
    expect(twice.statusCode).toBe(200);
    expect((twice.json() as Notification).readAt).toBe((once.json() as Notification).readAt);

    const cyHeaders = await t.auth(cy.id);
    const notMine = await t.app.inject({
      method: 'POST',
      url: `/v1/notifications/${first!.id}/read`,
      headers: cyHeaders,
    });
    expect(notMine.statusCode).toBe(404);
    expect(notMine.json().error.code).toBe('not_found');

    const perConversation = await t.app.inject({
      method: 'POST',
      url: '/v1/notifications/read-all',
      headers,
      payload: { conversationId: c1 },
    });
    expect(perConversation.statusCode).toBe(200);
    expect(perConversation.json()).toEqual({ updated: 1 });
    expect(await unreadCount(bob.id)).toBe(1);

    const everything = await t.app.inject({ method: 'POST', url: '/v1/notifications/read-all', headers });
    expect(everything.statusCode).toBe(200);
    expect(everything.json()).toEqual({ updated: 1 });
    expect(await unreadCount(bob.id)).toBe(0);
    // Cy's notification of the same message is untouched.
    expect(await unreadCount(cy.id)).toBeGreaterThan(0);
  });
});

describe('read-your-writes', () => {
  it('a count right after the caller read waits for that read to be applied', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = await group(ada, [bob]);
    await send(conv, ada.id, { content: 'one' });
    const m2 = await send(conv, ada.id, { content: 'two' });
    await awaitNotifications(bob.id, m2.message.id);
    await awaitMemberState(conv, bob.id, 'active');
    expect(await unreadCount(bob.id)).toBe(2);

    // POST /read at the message service committed and recorded Bob's watermark;
    // its receipt.read event reaches this service a moment later.
    await t.infra.kv.set(`rw:${bob.id}:${conv}`, JSON.stringify({ rev: m2.message.rev, readSeq: m2.message.seq }), {
      ttlMs: 60_000,
    });
    const answer = unreadCount(bob.id);
    setTimeout(() => {
      void t.publish('receipt.read', {
        conversationId: conv,
        userId: bob.id,
        seq: m2.message.seq,
        at: new Date().toISOString(),
      });
    }, 200);
    expect(await answer).toBe(0);
  });
});

describe('deleted messages', () => {
  it('blanks the body of the notifications of a deleted message', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = await group(ada, [bob]);
    const { message } = await send(conv, ada.id, { content: 'oops, wrong chat' });
    await awaitNotifications(bob.id, message.id);
    await t.publish('message.deleted', {
      message: { ...message, content: '', rev: message.rev + 1, deletedAt: new Date().toISOString() },
      deletedBy: ada.id,
    });
    const page = await eventually(
      () => list(bob.id),
      (p) => ofMessage(p, message.id)[0]?.body === '',
    );
    expect(ofMessage(page, message.id)[0]).toMatchObject({ body: '', title: 'Ada in Team' });
  });
});

describe('edits', () => {
  it('notifies those notified of the original, at most once a minute per message', async () => {
    const [ada, bob, cy, dee] = users('Ada', 'Bob', 'Cy', 'Dee');
    const conv = await group(ada, [bob, cy, dee], { preferences: { [dee.id]: 'mentions' } });
    const { message } = await send(conv, ada.id, { content: 'meet at 5' });
    await awaitNotifications(bob.id, message.id);

    const t0 = Date.now();
    const first = t.directory.edit(message, 'meet at 6', new Date(t0 + 1_000));
    const second = t.directory.edit(first.message, 'meet at 7', new Date(t0 + 30_000));
    const third = t.directory.edit(second.message, 'meet at 8', new Date(t0 + 62_000));
    for (const e of [first, second, third]) await t.publish('message.updated', e);

    const edits = async (userId: string) =>
      (await awaitNotifications(userId, message.id, 3)).filter((n) => n.kind === 'edit');
    const bobEdits = await edits(bob.id);
    expect(bobEdits.map((n) => n.body)).toEqual(['meet at 8', 'meet at 6']);
    expect(bobEdits[0]!.title).toBe('Ada edited a message in Team');
    expect((await edits(cy.id)).map((n) => n.body)).toEqual(['meet at 8', 'meet at 6']);
    // Dee (`mentions`) was not notified of the original, so not of its edits; Ada edited it herself.
    expect((await list(dee.id)).items).toEqual([]);
    expect((await list(ada.id)).items.filter((n) => n.messageId === message.id)).toEqual([]);
  });
});

describe('account deletion', () => {
  it("erases the user's notifications and drops them from the read model", async () => {
    const [ada, bob, cy] = users('Ada', 'Bob', 'Cy');
    const conv = await group(ada, [bob, cy]);
    const { message } = await send(conv, ada.id);
    await awaitNotifications(bob.id, message.id);
    await awaitNotifications(cy.id, message.id);

    await t.publish('user.deleted', { userId: bob.id, deletedAt: new Date().toISOString() });
    const after = await eventually(
      () => list(bob.id),
      (p) => p.items.length === 0,
    );
    expect(after.items).toEqual([]);
    const memberships = await t.infra.db.rows(sql`select 1 from notification.members where user_id = ${bob.id}`);
    expect(memberships).toEqual([]);
    const names = await t.infra.db.rows<{ name: string | null }>(
      sql`select name from notification.users where id = ${bob.id}`,
    );
    expect(names).toEqual([{ name: null }]);
    expect(ofMessage(await list(cy.id), message.id)).toHaveLength(1);
  });
});

describe('REST edges', () => {
  it('pages newest first with an opaque cursor', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = await group(ada, [bob]);
    const sent = [];
    for (const content of ['1', '2', '3']) sent.push((await send(conv, ada.id, { content })).message);
    await awaitNotifications(bob.id, sent[2]!.id);

    const first = await list(bob.id, '?limit=2');
    expect(first.items.map((n) => n.body)).toEqual(['3', '2']);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await list(bob.id, `?limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`);
    expect(second.items.map((n) => n.body)).toEqual(['1']);
    expect(second.nextCursor).toBeNull();
  });

  it('answers bad input with the documented error shape', async () => {
    const userId = newId();
    const headers = await t.auth(userId);
    const cases = [
      { url: '/v1/notifications?limit=0', field: 'limit' },
      { url: '/v1/notifications?limit=201', field: 'limit' },
      { url: '/v1/notifications?unread=maybe', field: 'unread' },
      { url: '/v1/notifications?since=1', field: 'since' },
      { url: '/v1/notifications?cursor=bm9wZQ', field: 'cursor' },
    ];
    for (const c of cases) {
      const res = await t.app.inject({ method: 'GET', url: c.url, headers });
      expect(res.statusCode, c.url).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      expect(res.json().error.details.map((d: { field: string }) => d.field)).toContain(c.field);
    }
    const badId = await t.app.inject({ method: 'POST', url: '/v1/notifications/nope/read', headers });
    expect(badId.statusCode).toBe(400);
    // A route without a body still refuses fields it would silently ignore.
    const fields = await t.app.inject({
      method: 'POST',
      url: `/v1/notifications/${newId()}/read`,
      headers,
      payload: { x: 1 },
    });
    expect(fields.statusCode).toBe(400);
    expect(fields.json().error.details.map((d: { field: string }) => d.field)).toEqual(['x']);
    const badBody = await t.app.inject({
      method: 'POST',
      url: '/v1/notifications/read-all',
      headers,
      payload: { conversationId: 'x', extra: true },
    });
    expect(badBody.statusCode).toBe(400);
    expect(
      badBody
        .json()
        .error.details.map((d: { field: string }) => d.field)
        .sort(),
    ).toEqual(['conversationId', 'extra']);
    const anonymous = await t.app.inject({ method: 'GET', url: '/v1/notifications' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.code).toBe('unauthorized');
  });

  it('exports consumer lag and processing time on /metrics', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/^consumer_pending\{[^}]*durable="notification-message-created"[^}]*\} \d+$/m);
    expect(res.body).toMatch(
      /^consumer_handle_seconds_count\{[^}]*durable="notification-message-created"[^}]*\} [1-9]/m,
    );
    expect(res.body).toContain('outbox_backlog');
  });
});
