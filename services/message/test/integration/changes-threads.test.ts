import type { Message } from '@parley/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, eventually, type Harness, type TestUser } from '../helper';

let h: Harness;
let ada: TestUser;
let bob: TestUser;

beforeAll(async () => {
  h = await build();
  ada = await h.makeUser('Ada');
  bob = await h.makeUser('Bob');
});
afterAll(async () => {
  await h?.close();
});

const get = async <T>(user: TestUser, url: string): Promise<T> => {
  const res = await h.app.inject({ method: 'GET', url, headers: user.auth });
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}: ${res.body}`);
  return res.json() as T;
};
const edit = (user: TestUser, id: string, content: string) =>
  h.app.inject({ method: 'PATCH', url: `/v1/messages/${id}`, headers: user.auth, payload: { content } });
const del = (user: TestUser, id: string) =>
  h.app.inject({ method: 'DELETE', url: `/v1/messages/${id}`, headers: user.auth });

describe('edits, deletes and catch-up by rev', () => {
  it('bumps rev on edit and delete, keeps seq, and returns exactly the changes after a rev in order', async () => {
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [bob.id], publish: false })).id;
    const m1 = await h.send(ada, c, 'one @Bob');
    const m2 = await h.send(bob, c, 'two');
    const m3 = await h.send(ada, c, 'three');
    const since = m3.rev;

    const e = await edit(ada, m1.id, 'one, edited');
    expect(e.statusCode).toBe(200);
    const edited = e.json() as Message;
    expect(edited).toMatchObject({ id: m1.id, seq: m1.seq, content: 'one, edited', mentions: [] });
    expect(edited.rev).toBe(since + 1);
    expect(edited.editedAt).not.toBeNull();

    expect((await del(bob, m2.id)).statusCode).toBe(204);
    const deleted = await get<Message>(ada, `/v1/messages/${m2.id}`);
    expect(deleted).toMatchObject({
      id: m2.id,
      seq: m2.seq,
      senderId: bob.id,
      content: '',
      attachments: [],
      mentions: [],
    });
    expect(deleted.rev).toBe(since + 2);
    expect(deleted.createdAt).toBe(m2.createdAt);
    expect(deleted.deletedAt).not.toBeNull();

    const m4 = await h.send(bob, c, 'four');
    expect(m4.rev).toBe(since + 3);
    expect(m4.seq).toBe(m3.seq + 1);

    const changes = await get<{ items: Message[]; nextCursor: string | null }>(
      ada,
      `/v1/conversations/${c}/changes?sinceRev=${since}`,
    );
    expect(changes.items.map((m) => [m.id, m.rev])).toEqual([
      [m1.id, since + 1],
      [m2.id, since + 2],
      [m4.id, since + 3],
    ]);
    expect(changes.nextCursor).toBeNull();

    const all = await get<{ items: Message[] }>(ada, `/v1/conversations/${c}/changes?sinceRev=0`);
    expect(all.items.map((m) => m.id)).toEqual([m3.id, m1.id, m2.id, m4.id]);

    // Paged catch-up walks the same order.
    const p1 = await get<{ items: Message[]; nextCursor: string }>(
      ada,
      `/v1/conversations/${c}/changes?sinceRev=0&limit=2`,
    );
    const p2 = await get<{ items: Message[]; nextCursor: string | null }>(
      ada,
      `/v1/conversations/${c}/changes?sinceRev=0&limit=2&cursor=${p1.nextCursor}`,
    );
    expect([...p1.items, ...p2.items].map((m) => m.id)).toEqual(all.items.map((m) => m.id));

    await eventually(() => {
      const updated = h.events.find((ev) => ev.type === 'message.updated' && ev.data.message.id === m1.id);
      expect(updated?.data).toMatchObject({ previousContent: 'one @Bob', editorId: ada.id });
      const gone = h.events.find((ev) => ev.type === 'message.deleted' && ev.data.message.id === m2.id);
      expect(gone?.data).toMatchObject({ deletedBy: bob.id, message: { content: '', deletedAt: deleted.deletedAt } });
    });
  });

  it('pages messages newest first with before and oldest first with after', async () => {
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [bob.id], publish: false })).id;
    const sent: Message[] = [];
    for (let i = 0; i < 7; i++) sent.push(await h.send(ada, c, `m${i}`));
    const latest = await get<{ items: Message[]; nextCursor: string }>(ada, `/v1/conversations/${c}/messages?limit=3`);
    expect(latest.items.map((m) => m.seq)).toEqual([7, 6, 5]);
    const older = await get<{ items: Message[]; nextCursor: string }>(
      ada,
      `/v1/conversations/${c}/messages?limit=3&cursor=${latest.nextCursor}`,
    );
    expect(older.items.map((m) => m.seq)).toEqual([4, 3, 2]);
    const before = await get<{ items: Message[] }>(ada, `/v1/conversations/${c}/messages?before=3`);
    expect(before.items.map((m) => m.seq)).toEqual([2, 1]);
    const after = await get<{ items: Message[]; nextCursor: string | null }>(
      ada,
      `/v1/conversations/${c}/messages?after=4&limit=2`,
    );
    expect(after.items.map((m) => m.seq)).toEqual([5, 6]);
    const rest = await get<{ items: Message[]; nextCursor: string | null }>(
      ada,
      `/v1/conversations/${c}/messages?limit=2&cursor=${after.nextCursor}`,
    );
    expect(rest.items.map((m) => m.seq)).toEqual([7]);
    expect(rest.nextCursor).toBeNull();

    const bad = await h.app.inject({
      method: 'GET',
      url: `/v1/conversations/${c}/messages?cursor=garbage`,
      headers: ada.auth,
    });
    expect(bad.statusCode).toBe(400);
    const both = await h.app.inject({
      method: 'GET',
      url: `/v1/conversations/${c}/messages?before=3&after=1`,
      headers: ada.auth,
    });
    expect(both.statusCode).toBe(400);
  });

  it('returns a thread with replies to replies and their depth, in one page or several', async () => {
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [bob.id], publish: false })).id;
    const root = await h.send(ada, c, 'root');
    const a = await h.send(bob, c, 'a', { parentId: root.id });
    const b = await h.send(ada, c, 'b', { parentId: root.id });
    const a1 = await h.send(ada, c, 'a1', { parentId: a.id });
    const a1x = await h.send(bob, c, 'a1x', { parentId: a1.id });
    await h.send(ada, c, 'unrelated');

    type Thread = { root: Message; replies: (Message & { depth: number })[]; nextCursor: string | null };
    const t = await get<Thread>(bob, `/v1/messages/${root.id}/thread`);
    expect(t.root.id).toBe(root.id);
    expect(t.root.replyCount).toBe(4);
    expect(t.replies.map((r) => [r.content, r.depth])).toEqual([
      ['a', 1],
      ['a1', 2],
      ['a1x', 3],
      ['b', 1],
    ]);
    expect(t.replies.every((r) => r.threadRootId === root.id)).toBe(true);
    expect(t.nextCursor).toBeNull();

    const first = await get<Thread>(bob, `/v1/messages/${root.id}/thread?limit=2`);
    const second = await get<Thread>(bob, `/v1/messages/${root.id}/thread?limit=2&cursor=${first.nextCursor}`);
    expect([...first.replies, ...second.replies].map((r) => r.id)).toEqual([a.id, a1.id, a1x.id, b.id]);

    const sub = await get<Thread>(bob, `/v1/messages/${a.id}/thread`);
    expect(sub.root.replyCount).toBe(2);
    expect(sub.replies.map((r) => [r.id, r.depth])).toEqual([
      [a1.id, 1],
      [a1x.id, 2],
    ]);
    expect(b.replyCount).toBe(0);
  });
});
