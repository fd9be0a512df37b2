/**
 * Members against the real servers: every permission rule, muted and banned
 * effects, member limits under concurrency, ownership hand-over, the
 * notification preference, and the RPC answers other services rely on.
 */
import { RPC } from '@parley/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGroup } from '../factories/conversations';
import { type Harness, type TestUser, as, build } from '../helper';

let h: Harness;
beforeAll(async () => {
  h = await build();
});
afterAll(async () => {
  await h?.close();
});

const req = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', user: TestUser, url: string, payload?: object) =>
  h.app.inject({ method, url, headers: as(user), ...(payload ? { payload } : {}) });

async function membersOf(user: TestUser, id: string) {
  const res = await req('GET', user, `/v1/conversations/${id}/members?limit=200`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json().items as { userId: string; role: string; state: string }[];
}

/** A group with an owner, an admin and two members. */
async function team() {
  const owner = await h.makeUser('Owner');
  const admin = await h.makeUser('Admin');
  const m1 = await h.makeUser('Member One');
  const m2 = await h.makeUser('Member Two');
  const conv = await makeGroup(h, owner, [admin, m1, m2]);
  const promote = await req('PATCH', owner, `/v1/conversations/${conv.id}/members/${admin.id}`, { role: 'admin' });
  expect(promote.statusCode, promote.body).toBe(200);
  return { owner, admin, m1, m2, conv, base: `/v1/conversations/${conv.id}` };
}

describe('permissions', () => {
  it('a member cannot add, remove, promote or close', async () => {
    const { m1, m2, base } = await team();
    const outsider = await h.makeUser();
    expect((await req('POST', m1, `${base}/members`, { userIds: [outsider.id] })).statusCode).toBe(403);
    expect((await req('DELETE', m1, `${base}/members/${m2.id}`)).statusCode).toBe(403);
    expect((await req('PATCH', m1, `${base}/members/${m2.id}`, { role: 'admin' })).statusCode).toBe(403);
    expect((await req('PATCH', m1, `${base}/members/${m1.id}`, { role: 'admin' })).statusCode).toBe(403);
    expect((await req('POST', m1, `${base}/close`)).statusCode).toBe(403);
  });

  it('an admin cannot remove, demote or ban the owner, nor make owners', async () => {
    const { owner, admin, m1, base } = await team();
    expect((await req('DELETE', admin, `${base}/members/${owner.id}`)).statusCode).toBe(403);
    expect((await req('PATCH', admin, `${base}/members/${owner.id}`, { role: 'member' })).statusCode).toBe(403);
    expect((await req('PATCH', admin, `${base}/members/${owner.id}`, { state: 'banned' })).statusCode).toBe(403);
    expect((await req('PATCH', admin, `${base}/members/${m1.id}`, { role: 'owner' })).statusCode).toBe(403);
    const roles = Object.fromEntries((await membersOf(owner, base.split('/').pop()!)).map((m) => [m.userId, m.role]));
    expect(roles[owner.id]).toBe('owner');
    expect(roles[m1.id]).toBe('member');
  });

  it('an admin adds, promotes to admin and removes members; the owner makes owners', async () => {
    const { owner, admin, m1, m2, base, conv } = await team();
    const newcomer = await h.makeUser();
    const added = await req('POST', admin, `${base}/members`, { userIds: [newcomer.id] });
    expect(added.statusCode, added.body).toBe(200);
    expect(added.json().items).toEqual([
      expect.objectContaining({ userId: newcomer.id, role: 'member', state: 'active' }),
    ]);
    expect((await req('PATCH', admin, `${base}/members/${m1.id}`, { role: 'admin' })).json().role).toBe('admin');
    expect((await req('DELETE', admin, `${base}/members/${m2.id}`)).statusCode).toBe(204);
    expect((await req('PATCH', owner, `${base}/members/${m1.id}`, { role: 'owner' })).json().role).toBe('owner');
    const after = await membersOf(owner, conv.id);
    expect(after.map((m) => m.userId)).not.toContain(m2.id);
    expect((await req('GET', m2, base)).statusCode).toBe(404);
  });

  it('the last owner cannot demote themselves while members remain', async () => {
    const { owner, base } = await team();
    const res = await req('PATCH', owner, `${base}/members/${owner.id}`, { role: 'member' });
    expect(res.statusCode).toBe(409);
  });

  it('nobody changes their own state', async () => {
    const { admin, base } = await team();
    expect((await req('PATCH', admin, `${base}/members/${admin.id}`, { state: 'muted' })).statusCode).toBe(403);
  });

  it('answers 404 for a member that is not there and 400 for a bad body', async () => {
    const { owner, base } = await team();
    const stranger = await h.makeUser();
    expect((await req('PATCH', owner, `${base}/members/${stranger.id}`, { role: 'admin' })).statusCode).toBe(404);
    expect((await req('DELETE', owner, `${base}/members/${stranger.id}`)).statusCode).toBe(404);
    expect((await req('PATCH', owner, `${base}/members/${stranger.id}`, {})).statusCode).toBe(400);
    expect((await req('PATCH', owner, `${base}/members/${stranger.id}`, { role: 'king' })).statusCode).toBe(400);
    expect((await req('POST', owner, `${base}/members`, { userIds: [] })).statusCode).toBe(400);
  });
});

describe('muted and banned', () => {
  it('a muted member still reads the conversation and its members', async () => {
    const { owner, m1, base, conv } = await team();
    const muted = await req('PATCH', owner, `${base}/members/${m1.id}`, { state: 'muted' });
    expect(muted.json().state).toBe('muted');
    const seen = await req('GET', m1, base);
    expect(seen.statusCode).toBe(200);
    expect(seen.json().me.state).toBe('muted');
    expect(seen.json().memberCount).toBe(4);
    expect((await membersOf(m1, conv.id)).length).toBe(4);
    const reply = await h.infra.bus.request<{ conversationIds: string[] }>(RPC.conversationMemberships, {
      userId: m1.id,
    });
    expect(reply.conversationIds).toContain(conv.id);
  });

  it('a banned member loses access, cannot rejoin or be re-added until unbanned', async () => {
    const owner = await h.makeUser();
    const bob = await h.makeUser();
    const conv = await makeGroup(h, owner, [bob], { visibility: 'public' });
    const base = `/v1/conversations/${conv.id}`;
    const banned = await req('PATCH', owner, `${base}/members/${bob.id}`, { state: 'banned' });
    expect(banned.statusCode, banned.body).toBe(200);
    expect(banned.json()).toMatchObject({ state: 'banned', role: 'member' });

    const view = await req('GET', bob, base);
    expect(view.json().me).toBeNull();
    expect(view.json().memberCount).toBe(1);
    expect((await req('GET', bob, '/v1/conversations')).json().items.map((c: { id: string }) => c.id)).not.toContain(
      conv.id,
    );
    expect((await req('PATCH', bob, `${base}/members/me`, { notifications: 'none' })).statusCode).toBe(403);
    expect((await req('POST', bob, `${base}/join`)).statusCode).toBe(403);
    expect((await req('POST', owner, `${base}/members`, { userIds: [bob.id] })).statusCode).toBe(409);
    // Removing the banned row would lift the ban: they are already out.
    expect((await req('DELETE', owner, `${base}/members/${bob.id}`)).statusCode).toBe(404);
    const membership = await h.infra.bus.request<{ member: { state: string } | null }>(RPC.conversationMembership, {
      conversationId: conv.id,
      userId: bob.id,
    });
    expect(membership.member?.state).toBe('banned');

    const unbanned = await req('PATCH', owner, `${base}/members/${bob.id}`, { state: 'active' });
    expect(unbanned.json().state).toBe('active');
    expect((await req('GET', bob, base)).json().me.state).toBe('active');
    expect((await req('GET', bob, base)).json().memberCount).toBe(2);
  });

  it('a muted member of a public group cannot shed the mute by leaving and joining again', async () => {
    const owner = await h.makeUser();
    const bob = await h.makeUser();
    const conv = await makeGroup(h, owner, [bob], { visibility: 'public' });
    const base = `/v1/conversations/${conv.id}`;
    expect((await req('PATCH', owner, `${base}/members/${bob.id}`, { state: 'muted' })).statusCode).toBe(200);
    expect((await req('DELETE', bob, `${base}/members/me`)).statusCode).toBe(204);

    const rejoined = await req('POST', bob, `${base}/join`);
    expect(rejoined.statusCode, rejoined.body).toBe(200);
    expect(rejoined.json().me.state).toBe('muted');
    const membership = await h.infra.bus.request<{ member: { state: string } | null }>(RPC.conversationMembership, {
      conversationId: conv.id,
      userId: bob.id,
    });
    expect(membership.member?.state).toBe('muted');

    // An admin adding them back is a grant: they come back active.
    expect((await req('DELETE', bob, `${base}/members/me`)).statusCode).toBe(204);
    expect((await req('POST', owner, `${base}/members`, { userIds: [bob.id] })).statusCode).toBe(200);
    expect((await req('GET', bob, base)).json().me.state).toBe('active');
  });

  it('a banned member of a private group gets 404', async () => {
    const { owner, m1, base } = await team();
    await req('PATCH', owner, `${base}/members/${m1.id}`, { state: 'banned' });
    expect((await req('GET', m1, base)).statusCode).toBe(404);
    expect((await req('POST', m1, `${base}/join`)).statusCode).toBe(404);
  });
});

describe('member limits', () => {
  it('20 parallel adds never push a group past maxMembers', async () => {
    const owner = await h.makeUser();
    const conv = await makeGroup(h, owner, [], { maxMembers: 10 });
    const candidates = await Promise.all(Array.from({ length: 20 }, () => h.makeUser()));
    const results = await Promise.all(
      candidates.map((c) => req('POST', owner, `/v1/conversations/${conv.id}/members`, { userIds: [c.id] })),
    );
    const ok = results.filter((r) => r.statusCode === 200).length;
    const full = results.filter((r) => r.statusCode === 409);
    expect(ok).toBe(9);
    expect(full).toHaveLength(11);
    for (const r of full) expect(r.json().error.code).toBe('conflict');
    const fresh = await req('GET', owner, `/v1/conversations/${conv.id}`);
    expect(fresh.json().memberCount).toBe(10);
    expect(await membersOf(owner, conv.id)).toHaveLength(10);
  });

  it('20 parallel joins of a public group stop at maxMembers too', async () => {
    const owner = await h.makeUser();
    const conv = await makeGroup(h, owner, [], { maxMembers: 5, visibility: 'public' });
    const joiners = await Promise.all(Array.from({ length: 20 }, () => h.makeUser()));
    const results = await Promise.all(joiners.map((j) => req('POST', j, `/v1/conversations/${conv.id}/join`)));
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(4);
    expect(results.filter((r) => r.statusCode === 409)).toHaveLength(16);
    expect(await membersOf(owner, conv.id)).toHaveLength(5);
  });

  it('an add that would overflow adds nobody', async () => {
    const owner = await h.makeUser();
    const conv = await makeGroup(h, owner, [], { maxMembers: 2 });
    const [a, b] = [await h.makeUser(), await h.makeUser()];
    const res = await req('POST', owner, `/v1/conversations/${conv.id}/members`, { userIds: [a.id, b.id] });
    expect(res.statusCode).toBe(409);
    expect(await membersOf(owner, conv.id)).toHaveLength(1);
  });
});

describe('leaving and ownership', () => {
  it('hands ownership to the longest-standing admin when the last owner leaves', async () => {
    const { owner, admin, m1, base, conv } = await team();
    expect((await req('DELETE', owner, `${base}/members/${owner.id}`)).statusCode).toBe(204);
    const roles = Object.fromEntries((await membersOf(admin, conv.id)).map((m) => [m.userId, m.role]));
    expect(roles[admin.id]).toBe('owner');
    expect(roles[m1.id]).toBe('member');
    expect(roles[owner.id]).toBeUndefined();
  });

  it('hands ownership to the longest-standing member when there is no admin', async () => {
    const owner = await h.makeUser();
    const first = await h.makeUser();
    const conv = await makeGroup(h, owner, [first]);
    const later = await h.makeUser();
    await req('POST', owner, `/v1/conversations/${conv.id}/members`, { userIds: [later.id] });
    await req('DELETE', owner, `/v1/conversations/${conv.id}/members/me`);
    const roles = Object.fromEntries((await membersOf(first, conv.id)).map((m) => [m.userId, m.role]));
    expect(roles[first.id]).toBe('owner');
    expect(roles[later.id]).toBe('member');
  });

  it('deletes a group when its last member leaves', async () => {
    const owner = await h.makeUser();
    const conv = await makeGroup(h, owner);
    expect((await req('DELETE', owner, `/v1/conversations/${conv.id}/members/${owner.id}`)).statusCode).toBe(204);
    expect((await req('GET', owner, `/v1/conversations/${conv.id}`)).statusCode).toBe(404);
    const reply = await h.infra.bus.request<{ conversation: unknown }>(RPC.conversationMembers, {
      conversationId: conv.id,
    });
    expect(reply.conversation).toBeNull();
  });
});

describe('my membership', () => {
  it('sets the notification preference', async () => {
    const { m1, base } = await team();
    const res = await req('PATCH', m1, `${base}/members/me`, { notifications: 'mentions' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().me.notifications).toBe('mentions');
    expect((await req('PATCH', m1, `${base}/members/me`, { notifications: 'loud' })).statusCode).toBe(400);
  });
});

describe('RPC answers', () => {
  it('answers membership, memberships and members, and rejects malformed requests', async () => {
    const { owner, m1, conv } = await team();
    const membership = await h.infra.bus.request<{ conversation: { id: string }; member: { role: string } }>(
      RPC.conversationMembership,
      { conversationId: conv.id, userId: owner.id },
    );
    expect(membership.conversation.id).toBe(conv.id);
    expect(membership.member.role).toBe('owner');
    const members = await h.infra.bus.request<{ members: { userId: string }[] }>(RPC.conversationMembers, {
      conversationId: conv.id,
    });
    expect(members.members).toHaveLength(4);
    const mine = await h.infra.bus.request<{ conversationIds: string[] }>(RPC.conversationMemberships, {
      userId: m1.id,
    });
    expect(mine.conversationIds).toContain(conv.id);
    await expect(h.infra.bus.request(RPC.conversationMembership, { conversationId: 'x' })).rejects.toThrow();
  });
});
