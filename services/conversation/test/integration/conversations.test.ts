/**
 * Conversations through the HTTP API against real Postgres, NATS and Redis:
 * creation rules, direct idempotency (also concurrent), lifecycle, listing,
 * public discovery and join, and 404s that never reveal a private
 * conversation.
 */
import type { Conversation } from '@parley/contracts';
import { newId } from '@parley/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirect, makeGroup } from '../factories/conversations';
import { type Harness, as, build } from '../helper';

let h: Harness;
beforeAll(async () => {
  h = await build();
});
afterAll(async () => {
  await h?.close();
});

const post = (user: { token: string }, url: string, payload?: object) =>
  h.app.inject({ method: 'POST', url, headers: as(user), ...(payload === undefined ? {} : { payload }) });
const get = (user: { token: string }, url: string) => h.app.inject({ method: 'GET', url, headers: as(user) });
const patch = (user: { token: string }, url: string, payload: object) =>
  h.app.inject({ method: 'PATCH', url, headers: as(user), payload });

describe('creating', () => {
  it('creates a group with the creator as owner and defaults from API.md', async () => {
    const ada = await h.makeUser('Ada');
    const grace = await h.makeUser('Grace');
    const res = await post(ada, '/v1/conversations', {
      type: 'group',
      title: 'Compilers',
      memberIds: [grace.id],
      metadata: { orderId: 42 },
    });
    expect(res.statusCode, res.body).toBe(201);
    const conv: Conversation = res.json();
    expect(conv).toMatchObject({
      type: 'group',
      title: 'Compilers',
      visibility: 'private',
      status: 'open',
      maxMembers: 50,
      memberCount: 2,
      metadata: { orderId: 42 },
      createdBy: ada.id,
      lastMessageAt: null,
      lastSeq: 0,
      me: { role: 'owner', state: 'active', notifications: 'all', lastReadSeq: 0, unreadCount: 0 },
    });
    const members = (await get(ada, `/v1/conversations/${conv.id}/members`)).json();
    expect(
      members.items.map((m: { userId: string; role: string; name?: string }) => [m.userId, m.role, m.name]),
    ).toEqual(
      expect.arrayContaining([
        [ada.id, 'owner', 'Ada'],
        [grace.id, 'member', 'Grace'],
      ]),
    );
  });

  it('accepts a user registered a moment ago (unknown locally, known to auth)', async () => {
    const ada = await h.makeUser();
    const fresh = await h.makeUser();
    const res = await post(ada, '/v1/conversations', { type: 'group', memberIds: [fresh.id] });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('answers 400 listing every unknown member id', async () => {
    const ada = await h.makeUser();
    const ghosts = [newId(), newId()];
    const res = await post(ada, '/v1/conversations', { type: 'group', memberIds: ghosts });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details).toHaveLength(2);
    for (const d of body.error.details) expect(d.field).toBe('memberIds');
    expect(body.error.details.map((d: { message: string }) => d.message).join(' ')).toContain(ghosts[0]);
  });

  it('validates the body: unknown fields, limits, metadata size, direct shape', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    const cases: [object, string][] = [
      [{ type: 'group', memberIds: [], color: 'red' }, 'color'],
      [{ type: 'group', memberIds: [], maxMembers: 1 }, 'maxMembers'],
      [{ type: 'group', memberIds: [], maxMembers: 1001 }, 'maxMembers'],
      [{ type: 'group', memberIds: ['nope'] }, 'memberIds.0'],
      [{ type: 'group', memberIds: [], metadata: { blob: 'x'.repeat(5000) } }, 'metadata'],
      [{ type: 'direct', memberIds: [] }, 'memberIds'],
      [{ type: 'direct', memberIds: [grace.id, ada.id] }, 'memberIds'],
      [{ type: 'direct', memberIds: [ada.id] }, 'memberIds'],
      [{ type: 'direct', memberIds: [grace.id], visibility: 'public' }, 'visibility'],
      [{ type: 'channel', memberIds: [] }, 'type'],
      // NUL characters: Postgres cannot store them in text or jsonb (these were 500s).
      [{ type: 'group', memberIds: [], title: 'a\u0000b' }, 'title'],
      [{ type: 'group', memberIds: [], metadata: { note: 'a\u0000b' } }, 'metadata.note'],
      [{ type: 'group', memberIds: [], metadata: { 'k\u0000': 1 } }, 'metadata.k\u0000'],
      // A lone surrogate: jsonb refuses it (in metadata, and in the outbox event of a title).
      [{ type: 'group', memberIds: [], title: 'a\ud800b' }, 'title'],
      [{ type: 'group', memberIds: [], metadata: { note: '\udfff' } }, 'metadata.note'],
    ];
    for (const [payload, field] of cases) {
      const res = await post(ada, '/v1/conversations', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      expect(res.json().error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
  });

  it('refuses a group created past its own maxMembers', async () => {
    const ada = await h.makeUser();
    const others = [await h.makeUser(), await h.makeUser()];
    const res = await post(ada, '/v1/conversations', {
      type: 'group',
      memberIds: others.map((o) => o.id),
      maxMembers: 2,
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('conflict');
  });

  it('answers 503 when auth cannot vouch for a user never seen, and works for known ones', async () => {
    const ada = await h.makeUser();
    const known = await h.makeUser();
    await post(ada, '/v1/conversations', { type: 'group', memberIds: [known.id] });
    const unseen = await h.makeUser();
    const loner = await h.makeUser();
    h.setAuthUsersDown(true);
    try {
      const res = await post(ada, '/v1/conversations', { type: 'group', memberIds: [unseen.id] });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('unavailable');
      expect((await post(ada, '/v1/conversations', { type: 'group', memberIds: [known.id] })).statusCode).toBe(201);
      expect((await post(loner, '/v1/conversations', { type: 'group', memberIds: [] })).statusCode).toBe(201);
    } finally {
      h.setAuthUsersDown(false);
    }
    expect((await post(ada, '/v1/conversations', { type: 'group', memberIds: [unseen.id] })).statusCode).toBe(201);
  });

  it('requires a valid token', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v1/conversations' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('unauthorized');
  });
});

describe('direct conversations', () => {
  it('returns the existing conversation of a pair with 200, whoever asks', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    const first = await post(ada, '/v1/conversations', { type: 'direct', memberIds: [grace.id] });
    expect(first.statusCode).toBe(201);
    const again = await post(ada, '/v1/conversations', { type: 'direct', memberIds: [grace.id] });
    expect(again.statusCode).toBe(200);
    const reverse = await post(grace, '/v1/conversations', { type: 'direct', memberIds: [ada.id] });
    expect(reverse.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    expect(reverse.json().id).toBe(first.json().id);
    expect(first.json()).toMatchObject({ type: 'direct', memberCount: 2, maxMembers: 2, visibility: 'private' });
  });

  it('creates exactly one conversation under 10 concurrent creations', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    // 503 says "retry is safe" (API.md); a client retries it once. Under CI
    // load one of ten racing creations occasionally answers 503 (open issue
    // noted in the service README); the outcome asserted below must hold.
    const create = async (i: number) => {
      const once = () =>
        i % 2 === 0
          ? post(ada, '/v1/conversations', { type: 'direct', memberIds: [grace.id] })
          : post(grace, '/v1/conversations', { type: 'direct', memberIds: [ada.id] });
      const first = await once();
      return first.statusCode === 503 ? once() : first;
    };
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => create(i)));
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(
      statuses.filter((s) => s === 200),
      JSON.stringify(results.filter((r) => r.statusCode >= 300).map((r) => r.json())),
    ).toHaveLength(9);
    expect(new Set(results.map((r) => r.json().id)).size).toBe(1);
    const list = (await get(ada, '/v1/conversations')).json();
    expect(list.items.filter((c: Conversation) => c.type === 'direct')).toHaveLength(1);
  });

  it('has fixed members: no adds, no leaving', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    const carol = await h.makeUser();
    const conv = await makeDirect(h, ada, grace);
    expect((await post(ada, `/v1/conversations/${conv.id}/members`, { userIds: [carol.id] })).statusCode).toBe(409);
    const leave = await h.app.inject({
      method: 'DELETE',
      url: `/v1/conversations/${conv.id}/members/${ada.id}`,
      headers: as(ada),
    });
    expect(leave.statusCode).toBe(403);
  });
});

describe('lifecycle', () => {
  it('goes open -> closed -> archived -> open with 409 for invalid transitions', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    const conv = await makeGroup(h, ada, [grace]);
    const base = `/v1/conversations/${conv.id}`;

    expect((await post(ada, `${base}/reopen`)).statusCode).toBe(409);
    const closed = await post(ada, `${base}/close`);
    expect(closed.statusCode).toBe(200);
    expect(closed.json().status).toBe('closed');
    expect((await post(ada, `${base}/close`)).statusCode).toBe(409);
    // Membership grants stop while closed.
    const carol = await h.makeUser();
    expect((await post(ada, `${base}/members`, { userIds: [carol.id] })).statusCode).toBe(409);

    const archived = await post(ada, `${base}/archive`);
    expect(archived.json().status).toBe('archived');
    expect((await post(ada, `${base}/archive`)).statusCode).toBe(409);
    expect((await post(ada, `${base}/close`)).statusCode).toBe(409);
    const edit = await patch(ada, base, { title: 'x' });
    expect(edit.statusCode).toBe(409);
    expect(edit.json().error.code).toBe('conflict');

    const reopened = await post(ada, `${base}/reopen`);
    expect(reopened.statusCode).toBe(200);
    expect(reopened.json().status).toBe('open');
  });

  it('leaves archived conversations out of the default list and returns them on request', async () => {
    const ada = await h.makeUser();
    const open = await makeGroup(h, ada, [], { title: 'open one' });
    const closed = await makeGroup(h, ada, [], { title: 'closed one' });
    const archived = await makeGroup(h, ada, [], { title: 'archived one' });
    await post(ada, `/v1/conversations/${closed.id}/close`);
    await post(ada, `/v1/conversations/${archived.id}/archive`);

    const ids = async (q = '') =>
      (await get(ada, `/v1/conversations${q}`)).json().items.map((c: Conversation) => c.id) as string[];
    expect(await ids()).toEqual(expect.arrayContaining([open.id, closed.id]));
    expect(await ids()).not.toContain(archived.id);
    expect(await ids('?status=archived')).toEqual([archived.id]);
    expect((await ids('?status=open,archived')).sort()).toEqual([open.id, archived.id].sort());
    expect((await get(ada, '/v1/conversations?status=deleted')).statusCode).toBe(400);
  });

  it('forbids members to close, archive, reopen or edit', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    const conv = await makeGroup(h, ada, [grace]);
    for (const action of ['close', 'archive']) {
      expect((await post(grace, `/v1/conversations/${conv.id}/${action}`)).statusCode).toBe(403);
    }
    await post(ada, `/v1/conversations/${conv.id}/close`);
    expect((await post(grace, `/v1/conversations/${conv.id}/reopen`)).statusCode).toBe(403);
    expect((await patch(grace, `/v1/conversations/${conv.id}`, { title: 'mine' })).statusCode).toBe(403);
  });

  it('answers 400 listing every unknown field on routes that take no body, and changes nothing', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    const conv = await makeGroup(h, ada, [grace], { visibility: 'public' });
    const base = `/v1/conversations/${conv.id}`;
    const refused = await post(ada, `${base}/close`, { reason: 'spam', notify: true });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.code).toBe('validation_failed');
    expect(refused.json().error.details.map((d: { field: string; code: string }) => [d.field, d.code])).toEqual([
      ['reason', 'unknown_field'],
      ['notify', 'unknown_field'],
    ]);
    expect((await get(ada, base)).json().status).toBe('open');
    expect((await post(grace, `${base}/join`, ['x'])).statusCode).toBe(400);
    const leave = await h.app.inject({
      method: 'DELETE',
      url: `${base}/members/me`,
      headers: as(grace),
      payload: { why: 'bored' },
    });
    expect(leave.statusCode).toBe(400);
    // No body, or an empty object, is what these routes take.
    expect((await post(ada, `${base}/close`, {})).statusCode).toBe(200);
    expect((await post(ada, `${base}/reopen`)).statusCode).toBe(200);
  });
});

describe('editing', () => {
  it('lets owners and admins edit title, visibility, limits and metadata', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    const conv = await makeGroup(h, ada, [grace]);
    await patch(ada, `/v1/conversations/${conv.id}/members/${grace.id}`, { role: 'admin' });
    const res = await patch(grace, `/v1/conversations/${conv.id}`, {
      title: 'Renamed',
      visibility: 'public',
      maxMembers: 10,
      metadata: { topic: 'x' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      title: 'Renamed',
      visibility: 'public',
      maxMembers: 10,
      metadata: { topic: 'x' },
    });
    expect(Date.parse(res.json().updatedAt)).toBeGreaterThanOrEqual(Date.parse(conv.updatedAt));
  });

  it('refuses maxMembers below the current member count', async () => {
    const ada = await h.makeUser();
    const others = [await h.makeUser(), await h.makeUser()];
    const conv = await makeGroup(h, ada, others);
    expect((await patch(ada, `/v1/conversations/${conv.id}`, { maxMembers: 2 })).statusCode).toBe(409);
  });
});

describe('listing', () => {
  it('pages by most recent activity with an opaque cursor, nothing missed or repeated', async () => {
    const ada = await h.makeUser();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await makeGroup(h, ada, [], { title: `g${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(ada, `/v1/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = res.json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((c: Conversation) => c.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...created].reverse());
  });

  it('answers 400 for a forged cursor and a limit out of range', async () => {
    const ada = await h.makeUser();
    expect((await get(ada, '/v1/conversations?cursor=forged')).statusCode).toBe(400);
    expect((await get(ada, '/v1/conversations?limit=500')).statusCode).toBe(400);
  });
});

describe('public groups', () => {
  it('are found by name and joined; private and closed ones are not', async () => {
    const ada = await h.makeUser();
    const bob = await h.makeUser();
    const tag = newId().slice(0, 8);
    const pub = await makeGroup(h, ada, [], { title: `Rust ${tag} fans`, visibility: 'public' });
    await makeGroup(h, ada, [], { title: `Rust ${tag} secret` });
    const closed = await makeGroup(h, ada, [], { title: `Rust ${tag} old`, visibility: 'public' });
    await post(ada, `/v1/conversations/${closed.id}/close`);

    const found = (await get(bob, `/v1/conversations/public?query=${encodeURIComponent(`rust ${tag}`)}`)).json();
    expect(found.items.map((c: Conversation) => c.id)).toEqual([pub.id]);
    expect(found.items[0].me).toBeNull();

    // Readable by an outsider, not writable.
    expect((await get(bob, `/v1/conversations/${pub.id}`)).statusCode).toBe(200);
    expect((await get(bob, `/v1/conversations/${pub.id}/members`)).statusCode).toBe(200);
    expect((await patch(bob, `/v1/conversations/${pub.id}`, { title: 'x' })).statusCode).toBe(403);

    const joined = await post(bob, `/v1/conversations/${pub.id}/join`);
    expect(joined.statusCode, joined.body).toBe(200);
    expect(joined.json().me).toMatchObject({ role: 'member', state: 'active' });
    expect(joined.json().memberCount).toBe(2);
    // Joining again changes nothing.
    expect((await post(bob, `/v1/conversations/${pub.id}/join`)).json().memberCount).toBe(2);
    expect((await post(bob, `/v1/conversations/${closed.id}/join`)).statusCode).toBe(409);
  });

  it('answers 400 for a NUL character in the query or a new title', async () => {
    const ada = await h.makeUser();
    const conv = await makeGroup(h, ada, []);
    const search = await get(ada, '/v1/conversations/public?query=a%00b');
    expect(search.statusCode).toBe(400);
    expect(search.json().error.details[0]).toMatchObject({ field: 'query', code: 'invalid_characters' });
    expect((await patch(ada, `/v1/conversations/${conv.id}`, { title: 'x\u0000' })).statusCode).toBe(400);
  });

  it('treats % and _ in the query literally', async () => {
    const ada = await h.makeUser();
    const res = await get(ada, `/v1/conversations/public?query=${encodeURIComponent('%_')}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().items).toEqual([]);
  });
});

describe('private conversations', () => {
  it('answer 404 to non-members on every route', async () => {
    const ada = await h.makeUser();
    const grace = await h.makeUser();
    const eve = await h.makeUser();
    const conv = await makeGroup(h, ada, [grace]);
    const base = `/v1/conversations/${conv.id}`;
    const routes: [string, string, object?][] = [
      ['GET', base],
      ['PATCH', base, { title: 'x' }],
      ['POST', `${base}/close`],
      ['POST', `${base}/archive`],
      ['POST', `${base}/reopen`],
      ['POST', `${base}/join`],
      ['GET', `${base}/members`],
      ['POST', `${base}/members`, { userIds: [eve.id] }],
      ['PATCH', `${base}/members/${grace.id}`, { role: 'admin' }],
      ['DELETE', `${base}/members/${grace.id}`],
      ['DELETE', `${base}/members/${eve.id}`],
      ['PATCH', `${base}/members/me`, { notifications: 'none' }],
    ];
    for (const [method, url, payload] of routes) {
      const res = await h.app.inject({
        method: method as 'GET',
        url,
        headers: as(eve),
        ...(payload === undefined ? {} : { payload }),
      });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
    // The same answer as for a conversation that does not exist.
    expect((await get(eve, `/v1/conversations/${newId()}`)).statusCode).toBe(404);
  });
});
