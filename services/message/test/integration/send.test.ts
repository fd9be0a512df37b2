import type { Message } from '@parley/contracts';
import { newId } from '@parley/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, eventually, type Harness, type TestUser } from '../helper';

let h: Harness;
let ada: TestUser;
let grace: TestUser;
let alan: TestUser;
let conv: string;

beforeAll(async () => {
  h = await build();
  ada = await h.makeUser('Ada Lovelace');
  grace = await h.makeUser('Grace');
  alan = await h.makeUser('Alan');
  conv = (await h.world.createConversation({ createdBy: ada.id, memberIds: [grace.id, alan.id] })).id;
});
afterAll(async () => {
  await h?.close();
});

const post = (user: TestUser, conversationId: string, payload: Record<string, unknown>) =>
  h.app.inject({
    method: 'POST',
    url: `/v1/conversations/${conversationId}/messages`,
    headers: user.auth,
    payload,
  });

describe('POST /v1/conversations/:id/messages', () => {
  it('stores a message with the next seq and rev and publishes message.created', async () => {
    const clientMessageId = newId();
    const res = await post(ada, conv, { clientMessageId, content: 'hello' });
    expect(res.statusCode).toBe(201);
    const m = res.json() as Message;
    expect(m).toMatchObject({
      conversationId: conv,
      senderId: ada.id,
      clientMessageId,
      type: 'text',
      content: 'hello',
      attachments: [],
      mentions: [],
      parentId: null,
      threadRootId: null,
      replyCount: 0,
      system: null,
      editedAt: null,
      deletedAt: null,
    });
    expect(m.seq).toBeGreaterThanOrEqual(1);
    expect(m.rev).toBeGreaterThanOrEqual(m.seq);
    await eventually(() =>
      expect(h.events.find((e) => e.type === 'message.created' && e.data.message.id === m.id)).toBeDefined(),
    );
  });

  it('returns the stored message with 200 when a clientMessageId is repeated, and creates nothing', async () => {
    const clientMessageId = newId();
    const first = await post(ada, conv, { clientMessageId, content: 'once' });
    const again = await post(ada, conv, { clientMessageId, content: 'once' });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    const next = await h.send(ada, conv, 'after the retry');
    expect(next.seq).toBe((first.json() as Message).seq + 1);
  });

  it('creates one message for 20 concurrent retries of one clientMessageId, leaving no seq gap', async () => {
    const clientMessageId = newId();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => post(grace, conv, { clientMessageId, content: 'retry storm' })),
    );
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 200)).toHaveLength(19);
    const ids = new Set(results.map((r) => (r.json() as Message).id));
    expect(ids.size).toBe(1);
    const stored = results[0]!.json() as Message;
    const next = await h.send(grace, conv, 'next');
    expect(next.seq).toBe(stored.seq + 1);
    await eventually(() =>
      expect(h.events.filter((e) => e.type === 'message.created' && e.data.message.id === stored.id)).toHaveLength(1),
    );
  });

  it('assigns seq 1..50 with no gap or repeat to 50 concurrent sends from 5 members', async () => {
    const users = [ada, grace, alan, await h.makeUser('Dee'), await h.makeUser('Eve')];
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: users.map((u) => u.id) })).id;
    const sends = users.flatMap((u) =>
      Array.from({ length: 10 }, (_, i) => post(u, c, { clientMessageId: newId(), content: `m${i}` })),
    );
    const results = await Promise.all(sends);
    expect(results.every((r) => r.statusCode === 201)).toBe(true);
    const seqs = results.map((r) => (r.json() as Message).seq).sort((a, b) => a - b);
    // The system message for the creation may land first; messages are dense from where they start.
    const listed = await h.app.inject({
      method: 'GET',
      url: `/v1/conversations/${c}/messages?after=0&limit=200`,
      headers: ada.auth,
    });
    const all = (listed.json() as { items: Message[] }).items;
    expect(all.map((m) => m.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(new Set(seqs).size).toBe(50);
    const revs = all.map((m) => m.rev);
    expect(new Set(revs).size).toBe(revs.length);
  });

  it('refuses bad input with every failing field listed', async () => {
    const res = await post(ada, conv, { clientMessageId: 'nope', content: 5, extra: true });
    expect(res.statusCode).toBe(400);
    const body = res.json() as { error: { code: string; details: { field: string }[] } };
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details.map((d) => d.field).sort()).toEqual(['clientMessageId', 'content', 'extra']);

    const tooLong = await post(ada, conv, { clientMessageId: newId(), content: 'x'.repeat(8001) });
    expect(tooLong.statusCode).toBe(400);
    const empty = await post(ada, conv, { clientMessageId: newId(), content: '   ' });
    expect(empty.json().error.details[0].field).toBe('content');
    const imageWithout = await post(ada, conv, { clientMessageId: newId(), content: '', type: 'image' });
    expect(imageWithout.json().error.details[0].field).toBe('attachments');
    const system = await post(ada, conv, { clientMessageId: newId(), content: 'hi', type: 'system' });
    expect(system.statusCode).toBe(400);
    const badAttachment = await post(ada, conv, {
      clientMessageId: newId(),
      content: '',
      type: 'file',
      attachments: [{ url: 'not a url', name: '', mimeType: 'nope', size: -1 }],
    });
    expect(badAttachment.statusCode).toBe(400);
    expect(badAttachment.json().error.details.length).toBeGreaterThanOrEqual(3);
  });

  it('stores attachments of image and file messages', async () => {
    const attachments = [{ url: 'https://cdn.example.com/a.png', name: 'a.png', mimeType: 'image/png', size: 1234 }];
    const m = await h.send(ada, conv, 'look', { type: 'image', attachments });
    expect(m.type).toBe('image');
    expect(m.attachments).toEqual(attachments);
    const wrong = await post(ada, conv, {
      clientMessageId: newId(),
      content: '',
      type: 'image',
      attachments: [{ url: 'https://x.example/a.pdf', name: 'a.pdf', mimeType: 'application/pdf', size: 1 }],
    });
    expect(wrong.statusCode).toBe(400);
  });

  it('answers 400 for content that is not well-formed Unicode (a lone surrogate)', async () => {
    const res = await post(ada, conv, { clientMessageId: newId(), content: 'half \ud83d of an emoji' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([
      expect.objectContaining({ field: 'content', code: 'invalid_characters' }),
    ]);
    // A whole emoji (a surrogate pair) is fine.
    expect((await post(ada, conv, { clientMessageId: newId(), content: 'whole \ud83d\ude00' })).statusCode).toBe(201);
  });

  it('answers 400 (not 500) for a NUL character in an attachment name', async () => {
    const res = await post(ada, conv, {
      clientMessageId: newId(),
      content: 'see file',
      type: 'file',
      attachments: [{ url: 'https://x.example/a.pdf', name: 'a\u0000.pdf', mimeType: 'application/pdf', size: 1 }],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([
      expect.objectContaining({ field: 'attachments.0.name', code: 'invalid_characters' }),
    ]);
  });

  it('refuses attachment URLs that are not http(s), so no script link reaches other members', async () => {
    const file = (url: string) => ({ url, name: 'a.pdf', mimeType: 'application/pdf', size: 1 });
    const res = await post(ada, conv, {
      clientMessageId: newId(),
      content: 'open me',
      type: 'file',
      attachments: [file('javascript:alert(document.cookie)'), file('https://ok.example/a.pdf'), file('data:x,1')],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([
      expect.objectContaining({ field: 'attachments.0.url', code: 'invalid_format' }),
      expect.objectContaining({ field: 'attachments.2.url', code: 'invalid_format' }),
    ]);
  });

  it('parses mentions from @name (names with spaces, longest match) and @all in groups', async () => {
    const m = await h.send(grace, conv, 'hey @ada lovelace and @Alan, mail me at x@Alan.org');
    expect(m.mentions).toEqual([ada.id, alan.id]);
    const all = await h.send(grace, conv, '@all standup!');
    expect(new Set(all.mentions)).toEqual(new Set([ada.id, alan.id]));
    const direct = (await h.world.createConversation({ type: 'direct', createdBy: ada.id, memberIds: [grace.id] })).id;
    const inDirect = await h.send(ada, direct, '@all @Grace');
    expect(inDirect.mentions).toEqual([grace.id]);
  });

  it('keeps replies in the conversation and counts every reply below a message', async () => {
    const root = await h.send(ada, conv, 'root');
    const r1 = await h.send(grace, conv, 'r1', { parentId: root.id });
    const r2 = await h.send(alan, conv, 'r2', { parentId: r1.id });
    expect(r1.threadRootId).toBe(root.id);
    expect(r2.threadRootId).toBe(root.id);
    expect(r2.parentId).toBe(r1.id);
    const get = async (id: string) =>
      (await h.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: ada.auth })).json() as Message;
    expect((await get(root.id)).replyCount).toBe(2);
    expect((await get(r1.id)).replyCount).toBe(1);

    const other = (await h.world.createConversation({ createdBy: ada.id, memberIds: [grace.id] })).id;
    const cross = await post(ada, other, { clientMessageId: newId(), content: 'x', parentId: root.id });
    expect(cross.statusCode).toBe(400);
    expect(cross.json().error.details[0].field).toBe('parentId');
  });

  it('records the read-your-writes watermark of the sender after commit', async () => {
    const m = await h.send(alan, conv, 'watermark');
    const raw = await h.infra.kv.get(`rw:${alan.id}:${conv}`);
    expect(JSON.parse(raw!)).toMatchObject({ rev: m.rev, seq: m.seq });
  });

  it('answers 401 without a valid token', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${conv}/messages`,
      payload: { clientMessageId: newId(), content: 'x' },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('unauthorized');
  });
});
