import type { Message, Receipts } from '@parley/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, eventually, type Harness, type TestUser } from '../helper';

let h: Harness;
let ada: TestUser;
let bob: TestUser;
let cy: TestUser;

beforeAll(async () => {
  h = await build();
  ada = await h.makeUser('Ada');
  bob = await h.makeUser('Bob');
  cy = await h.makeUser('Cy');
});
afterAll(async () => {
  await h?.close();
});

const mark = (user: TestUser, c: string, kind: 'read' | 'delivered', seq: number) =>
  h.app.inject({ method: 'POST', url: `/v1/conversations/${c}/${kind}`, headers: user.auth, payload: { seq } });
const get = async <T>(user: TestUser, url: string): Promise<T> => {
  const res = await h.app.inject({ method: 'GET', url, headers: user.auth });
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}: ${res.body}`);
  return res.json() as T;
};

describe('read and delivery markers', () => {
  it('never moves a read marker backwards and counts unread exactly', async () => {
    // The creation event writes a system message first: it is never unread.
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [bob.id, cy.id] })).id;
    const sys = await eventually(async () => {
      const list = await get<{ items: Message[] }>(bob, `/v1/conversations/${c}/messages?after=0`);
      expect(list.items[0]?.type).toBe('system');
      return list.items[0]!;
    });
    const m: Message[] = [];
    m.push(await h.send(ada, c, 'a1'));
    m.push(await h.send(bob, c, 'b1 (own)'));
    m.push(await h.send(ada, c, 'a2'));
    m.push(await h.send(cy, c, 'c1'));
    m.push(await h.send(ada, c, 'a3 (to be deleted)'));
    await h.app.inject({ method: 'DELETE', url: `/v1/messages/${m[4]!.id}`, headers: ada.auth });

    // Bob: unread = a1, a2, c1 (not his own, not the deleted one, not the system message).
    let res = await mark(bob, c, 'read', sys.seq);
    expect(res.json()).toEqual({ lastReadSeq: sys.seq, unreadCount: 3 });
    res = await mark(bob, c, 'read', m[2]!.seq);
    expect(res.json()).toEqual({ lastReadSeq: m[2]!.seq, unreadCount: 1 });
    res = await mark(bob, c, 'read', 1);
    expect(res.json()).toEqual({ lastReadSeq: m[2]!.seq, unreadCount: 1 });
    // Past the end: capped at the last seq.
    res = await mark(bob, c, 'read', 10_000);
    expect(res.json()).toEqual({ lastReadSeq: m[4]!.seq, unreadCount: 0 });

    const unread = await get<{ items: Message[] }>(cy, `/v1/messages/unread?conversationId=${c}`);
    expect(unread.items.map((x) => x.content)).toEqual(['a1', 'b1 (own)', 'a2']);
    const paged = await get<{ items: Message[]; nextCursor: string }>(cy, `/v1/messages/unread?limit=2`);
    expect(paged.items).toHaveLength(2);
    const rest = await get<{ items: Message[] }>(cy, `/v1/messages/unread?limit=2&cursor=${paged.nextCursor}`);
    expect([...paged.items, ...rest.items].map((x) => x.id)).toEqual(unread.items.map((x) => x.id));

    await eventually(() => {
      const reads = h.events.filter((e) => e.type === 'receipt.read' && e.data.userId === bob.id);
      // The backwards mark published nothing.
      expect(reads.map((e) => (e.data as { seq: number }).seq)).toEqual([sys.seq, m[2]!.seq, m[4]!.seq]);
    });
    expect(JSON.parse((await h.infra.kv.get(`rw:${bob.id}:${c}`))!)).toMatchObject({ readSeq: m[4]!.seq });
  });

  it('tracks delivery, answers receipts and publishes receipt.delivered', async () => {
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [bob.id, cy.id], publish: false })).id;
    const m1 = await h.send(ada, c, 'hello');
    const m2 = await h.send(ada, c, 'there');
    expect((await mark(bob, c, 'delivered', m2.seq)).json()).toEqual({ lastDeliveredSeq: m2.seq });
    expect((await mark(bob, c, 'delivered', m1.seq)).json()).toEqual({ lastDeliveredSeq: m2.seq });
    await mark(cy, c, 'read', m1.seq);

    const r1 = await get<Receipts>(ada, `/v1/messages/${m1.id}/receipts`);
    expect(r1.deliveredTo.map((x) => x.userId).sort()).toEqual([bob.id, cy.id].sort());
    expect(r1.readBy.map((x) => x.userId)).toEqual([cy.id]);
    const r2 = await get<Receipts>(ada, `/v1/messages/${m2.id}/receipts`);
    expect(r2.deliveredTo.map((x) => x.userId)).toEqual([bob.id]);
    expect(r2.readBy).toEqual([]);

    await eventually(() =>
      expect(
        h.events.filter((e) => e.type === 'receipt.delivered' && e.data.conversationId === c).map((e) => e.data),
      ).toEqual([expect.objectContaining({ userId: bob.id, seq: m2.seq })]),
    );
    const bad = await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${c}/read`,
      headers: bob.auth,
      payload: { seq: -1 },
    });
    expect(bad.statusCode).toBe(400);
  });
});
