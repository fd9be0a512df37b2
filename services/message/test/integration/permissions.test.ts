import type { Message } from '@parley/contracts';
import { newId } from '@parley/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, eventually, type Harness, type TestUser } from '../helper';

let h: Harness;
let owner: TestUser;
let member: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  h = await build();
  owner = await h.makeUser('Olga');
  member = await h.makeUser('Mia');
  stranger = await h.makeUser('Stan');
});
afterAll(async () => {
  await h?.close();
});

const send = (user: TestUser, conversationId: string, content = 'hi') =>
  h.app.inject({
    method: 'POST',
    url: `/v1/conversations/${conversationId}/messages`,
    headers: user.auth,
    payload: { clientMessageId: newId(), content },
  });
const code = (res: { json(): unknown }) => (res.json() as { error: { code: string } }).error.code;

describe('who may send and read', () => {
  it('answers 404 to a non-member on every route of a private conversation', async () => {
    const c = (await h.world.createConversation({ createdBy: owner.id, memberIds: [member.id] })).id;
    const m = await h.send(owner, c, 'secret');
    const routes: [string, string, Record<string, unknown>?][] = [
      ['POST', `/v1/conversations/${c}/messages`, { clientMessageId: newId(), content: 'x' }],
      ['GET', `/v1/conversations/${c}/messages`],
      ['GET', `/v1/conversations/${c}/changes?sinceRev=0`],
      ['GET', `/v1/messages/${m.id}`],
      ['PATCH', `/v1/messages/${m.id}`, { content: 'x' }],
      ['DELETE', `/v1/messages/${m.id}`],
      ['GET', `/v1/messages/${m.id}/thread`],
      ['GET', `/v1/messages/${m.id}/receipts`],
      ['POST', `/v1/conversations/${c}/read`, { seq: 1 }],
      ['POST', `/v1/conversations/${c}/delivered`, { seq: 1 }],
      ['GET', `/v1/messages/unread?conversationId=${c}`],
    ];
    for (const [method, url, payload] of routes) {
      const res = await h.app.inject({ method: method as 'GET', url, headers: stranger.auth, payload });
      expect([url, res.statusCode, code(res)]).toEqual([url, 404, 'not_found']);
    }
    const missing = await send(owner, newId());
    expect(missing.statusCode).toBe(404);
  });

  it('lets anyone read a public group but only members send (403)', async () => {
    const c = (await h.world.createConversation({ createdBy: owner.id, memberIds: [member.id], visibility: 'public' }))
      .id;
    await h.send(owner, c, 'welcome');
    const list = await h.app.inject({ method: 'GET', url: `/v1/conversations/${c}/messages`, headers: stranger.auth });
    expect(list.statusCode).toBe(200);
    const res = await send(stranger, c);
    expect([res.statusCode, code(res)]).toEqual([403, 'forbidden']);
  });

  it('refuses a muted member with 403 and a closed or archived conversation with 409', async () => {
    const c = (await h.world.createConversation({ createdBy: owner.id, memberIds: [member.id] })).id;
    await h.world.updateMember(c, member.id, { state: 'muted' }, owner.id);
    await eventually(async () => expect((await send(member, c)).statusCode).toBe(403));
    // Muted members still read and mark.
    const read = await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${c}/read`,
      headers: member.auth,
      payload: { seq: 0 },
    });
    expect(read.statusCode).toBe(200);

    await h.world.setStatus(c, 'closed', owner.id);
    await eventually(async () => expect((await send(owner, c)).statusCode).toBe(409));
    await h.world.setStatus(c, 'archived', owner.id);
    await eventually(async () => {
      const res = await send(owner, c);
      expect([res.statusCode, code(res)]).toEqual([409, 'conflict']);
    });
  });

  it('treats a banned member of a private conversation as a stranger (404)', async () => {
    const c = (await h.world.createConversation({ createdBy: owner.id, memberIds: [member.id] })).id;
    await h.world.updateMember(c, member.id, { state: 'banned' }, owner.id);
    await eventually(async () => expect((await send(member, c)).statusCode).toBe(404));
  });

  it('lets a conversation be used right after its creation, before any event (RPC on a miss)', async () => {
    const c = (await h.world.createConversation({ createdBy: owner.id, memberIds: [member.id], publish: false })).id;
    expect((await send(member, c, 'first!')).statusCode).toBe(201);
  });

  it('applies grants at once (confirmed with the owner before refusing)', async () => {
    const c = (await h.world.createConversation({ createdBy: owner.id, memberIds: [member.id] })).id;
    await h.world.updateMember(c, member.id, { state: 'muted' }, owner.id);
    await eventually(async () => expect((await send(member, c)).statusCode).toBe(403));
    // Unmute and add, without the events reaching us: still allowed at once.
    await h.world.updateMember(c, member.id, { state: 'active' }, owner.id, { publish: false });
    expect((await send(member, c)).statusCode).toBe(201);
    await h.world.addMember(c, stranger.id, owner.id, { publish: false });
    expect((await send(stranger, c)).statusCode).toBe(201);
    await h.world.setStatus(c, 'closed', owner.id);
    await eventually(async () => expect((await send(owner, c)).statusCode).toBe(409));
    await h.world.setStatus(c, 'open', owner.id, { publish: false });
    expect((await send(owner, c)).statusCode).toBe(201);
  });

  it('applies revocations from events within a second', async () => {
    const c = (await h.world.createConversation({ createdBy: owner.id, memberIds: [member.id] })).id;
    expect((await send(member, c)).statusCode).toBe(201);
    await h.world.removeMember(c, member.id, owner.id);
    await eventually(async () => expect((await send(member, c)).statusCode).toBe(404), 1000);
  });

  it('lets only the sender edit, and the sender or an owner/admin delete', async () => {
    const c = (await h.world.createConversation({ createdBy: owner.id, memberIds: [member.id, stranger.id] })).id;
    const mine = await h.send(member, c, 'mine');
    const patch = (u: TestUser, id: string) =>
      h.app.inject({ method: 'PATCH', url: `/v1/messages/${id}`, headers: u.auth, payload: { content: 'edited' } });
    const del = (u: TestUser, id: string) =>
      h.app.inject({ method: 'DELETE', url: `/v1/messages/${id}`, headers: u.auth });

    expect((await patch(owner, mine.id)).statusCode).toBe(403);
    expect((await patch(member, mine.id)).statusCode).toBe(200);
    expect((await del(stranger, mine.id)).statusCode).toBe(403);
    expect((await del(owner, mine.id)).statusCode).toBe(204);
    const gone = (
      await h.app.inject({ method: 'GET', url: `/v1/messages/${mine.id}`, headers: member.auth })
    ).json() as Message;
    expect(gone.deletedAt).not.toBeNull();
    expect((await patch(member, mine.id)).statusCode).toBe(409);

    const other = await h.send(member, c, 'again');
    await h.world.updateMember(c, stranger.id, { role: 'admin' }, owner.id);
    await eventually(async () => expect((await del(stranger, other.id)).statusCode).toBe(204));
    const own = await h.send(stranger, c, 'own');
    expect((await del(stranger, own.id)).statusCode).toBe(204);
    expect((await del(stranger, own.id)).statusCode).toBe(204);
  });

  it('answers 400 for fields in the body of a delete, and deletes nothing', async () => {
    const c = (await h.world.createConversation({ createdBy: owner.id, memberIds: [member.id] })).id;
    const m = await h.send(member, c, 'keep me');
    const res = await h.app.inject({
      method: 'DELETE',
      url: `/v1/messages/${m.id}`,
      headers: member.auth,
      payload: { hard: true },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([expect.objectContaining({ field: 'hard', code: 'unknown_field' })]);
    const still = await h.app.inject({ method: 'GET', url: `/v1/messages/${m.id}`, headers: member.auth });
    expect((still.json() as Message).deletedAt).toBeNull();
  });

  it('answers 404 for a conversation that neither the model nor its owner knows', async () => {
    expect((await send(owner, newId())).statusCode).toBe(404);
  });
});
