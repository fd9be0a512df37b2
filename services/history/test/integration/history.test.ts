/**
 * The history service against real Postgres, NATS and Redis: message and
 * membership events in as their owners publish them, REST out through
 * app.inject().
 */
import type { AnyEventEnvelope, Message, PublicUser } from '@parley/contracts';
import { newId } from '@parley/service-kit';
import { requireServers } from '@parley/service-kit/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, setup, type TestContext } from '../helper';

await requireServers(['postgres', 'nats', 'redis']);

let t: TestContext;
beforeAll(async () => {
  t = await setup();
});
afterAll(async () => {
  await t?.close();
});

type Revision = { content: string; editedAt: string; editorId: string };
type Hit = Message & { snippet: string; rank: number };
type Page<T> = { items: T[]; nextCursor: string | null };

async function history(userId: string, messageId: string, query = '') {
  return t.app.inject({
    method: 'GET',
    url: `/v1/messages/${messageId}/history${query}`,
    headers: await t.auth(userId),
  });
}

async function revisionsOf(userId: string, messageId: string): Promise<Revision[]> {
  const res = await history(userId, messageId);
  expect(res.statusCode).toBe(200);
  return (res.json() as Page<Revision>).items;
}

async function search(userId: string, q: string, extra: Record<string, string> = {}) {
  const query = new URLSearchParams({ q, ...extra });
  return t.app.inject({ method: 'GET', url: `/v1/search/messages?${query}`, headers: await t.auth(userId) });
}

async function hits(userId: string, q: string, extra: Record<string, string> = {}): Promise<Hit[]> {
  const res = await search(userId, q, extra);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as Page<Hit>).items;
}

/** Revisions once there are `n` (the message and its edits are applied asynchronously; 404 until it is known). */
async function awaitRevisions(userId: string, messageId: string, n: number): Promise<Revision[]> {
  const res = await eventually(
    () => history(userId, messageId),
    (r) => r.statusCode === 200 && (r.json() as Page<Revision>).items.length === n,
  );
  expect(res.statusCode).toBe(200);
  return (res.json() as Page<Revision>).items;
}

/** Hits of `q` once they satisfy `done` (events are applied asynchronously). */
function hitsWhen(userId: string, q: string, done: (h: Hit[]) => boolean, extra: Record<string, string> = {}) {
  return eventually(() => hits(userId, q, extra), done);
}

const ids = (h: Hit[]) => h.map((x) => x.id).sort();

function users(...names: string[]): PublicUser[] {
  return names.map((n) => t.directory.makeUser(n));
}

async function group(owner: PublicUser, others: PublicUser[], title = 'Team') {
  const created = t.directory.makeGroup(owner, others, { title });
  await t.publish('conversation.created', created);
  return created.conversation.id;
}

async function send(conversationId: string, senderId: string, content: string) {
  const message = t.directory.makeMessage(conversationId, senderId, { content });
  await t.publish('message.created', { message });
  return message;
}

describe('edit history', () => {
  it('three edits give three revisions, oldest first, only for members', async () => {
    const [ada, bob, eve] = users('Ada', 'Bob', 'Eve');
    const conv = await group(ada, [bob]);
    const m = await send(conv, ada.id, 'v1');
    const base = Date.now();
    const e1 = t.directory.edit(m, 'v2', new Date(base + 1000));
    const e2 = t.directory.edit(e1.message, 'v3', new Date(base + 2000));
    const e3 = t.directory.edit(e2.message, 'v4', new Date(base + 3000));
    for (const e of [e1, e2, e3]) await t.publish('message.updated', e);

    const revs = await awaitRevisions(bob.id, m.id, 3);
    expect(revs).toEqual([
      { content: 'v1', editedAt: e1.message.editedAt, editorId: ada.id },
      { content: 'v2', editedAt: e2.message.editedAt, editorId: ada.id },
      { content: 'v3', editedAt: e3.message.editedAt, editorId: ada.id },
    ]);

    const page1 = await history(bob.id, m.id, '?limit=2');
    const body1 = page1.json() as Page<Revision>;
    expect(body1.items.map((r) => r.content)).toEqual(['v1', 'v2']);
    const page2 = await history(bob.id, m.id, `?limit=2&cursor=${body1.nextCursor}`);
    expect((page2.json() as Page<Revision>).items.map((r) => r.content)).toEqual(['v3']);
    expect((page2.json() as Page<Revision>).nextCursor).toBeNull();

    const outsider = await history(eve.id, m.id);
    expect(outsider.statusCode).toBe(404);
    expect(outsider.json().error.code).toBe('not_found');
    const unknown = await history(bob.id, newId());
    expect(unknown.statusCode).toBe(404);
  });

  it('out-of-order and duplicate events give the same result as in order', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = await group(ada, [bob]);
    const base = Date.now();
    const script = (content: string) => {
      const m = t.directory.makeMessage(conv, ada.id, { content: `${content} draft` });
      const e1 = t.directory.edit(m, `${content} second`, new Date(base + 1000));
      const e2 = t.directory.edit(e1.message, `${content} third`, new Date(base + 2000));
      const e3 = t.directory.edit(e2.message, `${content} final`, new Date(base + 3000));
      return { m, e1, e2, e3 };
    };
    const inOrder = script('ordered');
    await t.publish('message.created', { message: inOrder.m });
    for (const e of [inOrder.e1, inOrder.e2, inOrder.e3]) await t.publish('message.updated', e);

    const shuffled = script('shuffled');
    const published: AnyEventEnvelope[] = [];
    published.push(await t.publish('message.updated', shuffled.e3));
    published.push(await t.publish('message.updated', shuffled.e1));
    published.push(await t.publish('message.created', { message: shuffled.m }));
    published.push(await t.publish('message.updated', shuffled.e2));
    // Duplicates: the same envelopes again, and the same facts under new event ids.
    for (const e of published) {
      await t.republish(e);
      await t.republish({ ...e, id: newId() });
    }

    const expected = (x: ReturnType<typeof script>, label: string) =>
      ['draft', 'second', 'third'].map((w, i) => ({
        content: `${label} ${w}`,
        editedAt: [x.e1, x.e2, x.e3][i]!.message.editedAt,
        editorId: ada.id,
      }));
    expect(await awaitRevisions(bob.id, inOrder.m.id, 3)).toEqual(expected(inOrder, 'ordered'));
    expect(await awaitRevisions(bob.id, shuffled.m.id, 3)).toEqual(expected(shuffled, 'shuffled'));
    // The late create did not roll the current content back.
    const current = await hitsWhen(bob.id, 'shuffled', (h) => h.length === 1);
    expect(current.map((h) => h.content)).toEqual(['shuffled final']);
    expect(await hits(bob.id, 'draft')).toEqual([]);
  });

  it("waits for the caller's own latest write before answering (read-your-writes)", async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = await group(ada, [bob]);
    const m = await send(conv, ada.id, 'first words');
    await hitsWhen(ada.id, 'first', (h) => h.length === 1);
    const edit = t.directory.edit(m, 'second words', new Date());
    // The message service records the watermark after its commit; the event reaches us a moment later.
    await t.infra.kv.set(`rw:${ada.id}:${conv}`, JSON.stringify({ rev: edit.message.rev }), { ttlMs: 60_000 });
    const answer = history(ada.id, m.id);
    setTimeout(() => void t.publish('message.updated', edit), 200);
    const res = await answer;
    expect(res.statusCode).toBe(200);
    expect((res.json() as Page<Revision>).items.map((r) => r.content)).toEqual(['first words']);
  });
});

describe('search', () => {
  it('finds stemmed words and phrases, ranked, with marked snippets, only where the caller belongs', async () => {
    const [ada, bob, eve] = users('Ada', 'Bob', 'Eve');
    const conv = await group(ada, [bob]);
    const other = await group(eve, [ada]);
    const run = await send(conv, ada.id, 'I run every morning before work');
    const running = await send(conv, bob.id, 'Bob is running late <b>again</b> & sorry');
    const phrase = await send(conv, ada.id, 'the quick brown fox jumps');
    await send(conv, ada.id, 'brown and quick, the fox');
    const elsewhere = await send(other, eve.id, 'running in the other room');

    const found = await hitsWhen(bob.id, 'running', (h) => h.length >= 2);
    expect(ids(found)).toEqual([run.id, running.id].sort());
    const stemmedBack = await hits(bob.id, 'run');
    expect(ids(stemmedBack)).toEqual([run.id, running.id].sort());
    const withRunning = found.find((h) => h.id === running.id)!;
    expect(withRunning.snippet).toContain('<mark>running</mark>');
    // Markup in the text never reaches the snippet as markup.
    expect(withRunning.snippet).toContain('&amp; sorry');
    expect(withRunning.snippet).not.toContain('<b>');
    expect(withRunning).toMatchObject({ conversationId: conv, senderId: bob.id, seq: running.seq });

    const exact = await hitsWhen(bob.id, '"quick brown fox"', (h) => h.length >= 1);
    expect(ids(exact)).toEqual([phrase.id]);

    // Ada is in both conversations; Bob only in the first.
    const adas = await hitsWhen(ada.id, 'running', (h) => h.length >= 3);
    expect(ids(adas)).toEqual([run.id, running.id, elsewhere.id].sort());
    expect(ids(await hits(ada.id, 'running', { conversationId: other }))).toEqual([elsewhere.id]);
    const notMine = await search(bob.id, 'running', { conversationId: other });
    expect(notMine.statusCode).toBe(404);
    expect(notMine.json().error.code).toBe('not_found');
  });

  it('pages by rank with a stable cursor', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = await group(ada, [bob]);
    const sent = [];
    for (const c of ['kiwi', 'kiwi kiwi', 'kiwi kiwi kiwi', 'one kiwi among many other words here', 'kiwi']) {
      sent.push(await send(conv, ada.id, c));
    }
    await hitsWhen(bob.id, 'kiwi', (h) => h.length === 5);
    const seen: string[] = [];
    let cursor: string | null = null;
    let ranks: number[] = [];
    do {
      const res = await search(bob.id, 'kiwi', { limit: '2', ...(cursor ? { cursor } : {}) });
      expect(res.statusCode).toBe(200);
      const body = res.json() as Page<Hit>;
      seen.push(...body.items.map((h) => h.id));
      ranks = ranks.concat(body.items.map((h) => h.rank));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(sent.map((m) => m.id).sort());
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
  });

  it('follows edits and drops deleted messages, keeping a deletion audit without content', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = await group(ada, [bob]);
    const m = await send(conv, ada.id, 'apple pie recipe');
    await hitsWhen(bob.id, 'apple', (h) => h.length === 1);

    const edit = t.directory.edit(m, 'banana bread recipe', new Date());
    await t.publish('message.updated', edit);
    const bananas = await hitsWhen(bob.id, 'banana', (h) => h.length === 1);
    expect(bananas[0]!.content).toBe('banana bread recipe');
    expect(await hits(bob.id, 'apple')).toEqual([]);

    await t.publish('message.deleted', t.directory.remove(edit.message, bob.id));
    expect(await hitsWhen(bob.id, 'recipe', (h) => h.length === 0)).toEqual([]);
    expect(await revisionsOf(bob.id, m.id)).toEqual([]);
    const audit = await t.infra.db.rows<Record<string, unknown>>(
      sql`select * from history.deletions where message_id = ${m.id}`,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ deleted_by: bob.id, conversation_id: conv });
    expect(Object.keys(audit[0]!).sort()).toEqual(['conversation_id', 'deleted_at', 'deleted_by', 'message_id', 'rev']);

    // A late, older edit does not bring the text back.
    await t.republish({ ...(await t.publish('message.updated', edit)), id: newId() });
    const probe = await send(conv, ada.id, 'apple probe');
    await hitsWhen(bob.id, 'probe', (h) => h.length === 1);
    expect(await hits(bob.id, 'banana')).toEqual([]);
    expect(ids(await hits(bob.id, 'apple'))).toEqual([probe.id]);
  });

  it("a removed member stops finding that conversation's messages; a new member finds them at once", async () => {
    const [ada, bob, cy] = users('Ada', 'Bob', 'Cy');
    const conv = await group(ada, [bob]);
    const m = await send(conv, ada.id, 'secret plans for friday');
    await hitsWhen(bob.id, 'plans', (h) => h.length === 1);

    await t.publish('member.removed', t.directory.removeMember(conv, bob.id, 'removed', ada.id));
    expect(await hitsWhen(bob.id, 'plans', (h) => h.length === 0)).toEqual([]);
    expect((await history(bob.id, m.id)).statusCode).toBe(404);
    expect((await search(bob.id, 'plans', { conversationId: conv })).statusCode).toBe(404);

    // Cy is added; her member.added has not reached us: the owner confirms before we refuse.
    t.directory.addMember(conv, cy, ada.id);
    const before = t.directory.membershipRequests;
    expect((await history(cy.id, m.id)).statusCode).toBe(200);
    expect(ids(await hits(cy.id, 'plans', { conversationId: conv }))).toEqual([m.id]);
    expect(t.directory.membershipRequests).toBeGreaterThan(before);
  });

  it('user deletion erases their revisions and search entries', async () => {
    const [ada, bob] = users('Ada', 'Bob');
    const conv = await group(ada, [bob]);
    const adas = await send(conv, ada.id, 'zebra crossing');
    const bobs = await send(conv, bob.id, 'zebra stripes');
    const edit = t.directory.edit(adas, 'zebra crossing ahead', new Date());
    await t.publish('message.updated', edit);
    await awaitRevisions(bob.id, adas.id, 1);
    await hitsWhen(bob.id, 'zebra', (h) => h.length === 2);

    await t.publish('user.deleted', { userId: ada.id, deletedAt: new Date().toISOString() });
    const left = await hitsWhen(bob.id, 'zebra', (h) => h.length === 1);
    expect(ids(left)).toEqual([bobs.id]);
    expect(await revisionsOf(bob.id, adas.id)).toEqual([]);
    const stored = await t.infra.db.rows<{ content: string }>(
      sql`select content from history.messages where sender_id = ${ada.id}`,
    );
    expect(stored).toEqual([{ content: '' }]);
    // A late edit of hers (redelivered) brings nothing back.
    await t.publish('message.updated', t.directory.edit(edit.message, 'zebra again', new Date()));
    await send(conv, bob.id, 'marker zebra');
    await hitsWhen(bob.id, 'marker', (h) => h.length === 1);
    expect(ids(await hits(bob.id, 'zebra')).length).toBe(2);
    expect(await revisionsOf(bob.id, adas.id)).toEqual([]);
  });
});

describe('REST edges', () => {
  it('answers bad input with the documented error shape', async () => {
    const headers = await t.auth(newId());
    const cases = [
      { url: '/v1/search/messages', field: 'q' },
      { url: '/v1/search/messages?q=', field: 'q' },
      { url: `/v1/search/messages?q=${'x'.repeat(257)}`, field: 'q' },
      { url: '/v1/search/messages?q=a&conversationId=nope', field: 'conversationId' },
      { url: '/v1/search/messages?q=a&limit=500', field: 'limit' },
      { url: '/v1/search/messages?q=a&cursor=bad', field: 'cursor' },
      { url: '/v1/search/messages?q=a&sort=new', field: 'sort' },
      { url: '/v1/messages/nope/history', field: 'id' },
      // NUL cannot reach Postgres: refused by the kit before the handler, not a 500.
      { url: '/v1/search/messages?q=a%00b', field: 'q' },
    ];
    for (const c of cases) {
      const res = await t.app.inject({ method: 'GET', url: c.url, headers });
      expect(res.statusCode, c.url).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      expect(res.json().error.details.map((d: { field: string }) => d.field)).toContain(c.field);
    }
    const anonymous = await t.app.inject({ method: 'GET', url: '/v1/search/messages?q=a' });
    expect(anonymous.statusCode).toBe(401);
    // Only stop words: a valid query that matches nothing.
    const stop = await t.app.inject({ method: 'GET', url: '/v1/search/messages?q=the', headers });
    expect(stop.statusCode).toBe(200);
    expect(stop.json()).toEqual({ items: [], nextCursor: null });
  });

  it('exports consumer lag on /metrics', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/^consumer_pending\{[^}]*durable="history-message-created"[^}]*\} \d+$/m);
    expect(res.body).toMatch(/^consumer_handle_seconds_count\{[^}]*durable="history-message-updated"[^}]*\} [1-9]/m);
  });
});
