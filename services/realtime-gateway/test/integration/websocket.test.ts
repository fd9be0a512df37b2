/**
 * The WebSocket protocol of the gateway against real NATS and Redis: auth
 * variants, Origin, frame limits, delivery by membership, typing, presence,
 * revocation, and two gateways on one deployment. The conversation service
 * is stood in for by its membership RPCs, events are published the way the
 * owners' relays publish them (see full-system.test.ts for the real services).
 */
import { newId } from '@parley/service-kit';
import { captureLogs, createTestInfra, requireServers, type TestInfra } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  conversationFact,
  createTestKeys,
  eventually,
  FakeMemberships,
  publishEvent,
  type RunningGateway,
  siblingInfra,
  sleep,
  startGateway,
  type TestKeys,
  testMessage,
  WsClient,
} from '../helper';

let infra: TestInfra;
let keys: TestKeys;
let memberships: FakeMemberships;
let gw: RunningGateway;
const clients: WsClient[] = [];

async function ready(userId: string, via: 'header' | 'frame' = 'frame', url = gw.wsUrl) {
  const c = await WsClient.ready(url, await keys.sign(userId), via);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  if (!(await requireServers(['postgres', 'nats', 'redis']))) return;
  infra = await createTestInfra({ service: 'gateway-ws' });
  keys = await createTestKeys();
  memberships = new FakeMemberships(infra.bus);
  gw = await startGateway(
    infra,
    { WS_ALLOWED_ORIGINS: 'http://allowed.test', WS_FRAME_RATE_PER_SEC: '20', MESSAGE_URL: 'http://127.0.0.1:9' },
    { authKeys: keys.jwks },
  );
});

afterAll(async () => {
  for (const c of clients) c.close();
  await gw?.close();
  memberships?.stop();
  await infra?.close();
});

describe('authentication', () => {
  it('accepts the token in the upgrade header and in a first auth frame', async () => {
    const userId = newId();
    const viaHeader = await ready(userId, 'header');
    const viaFrame = await ready(userId, 'frame');
    for (const c of [viaHeader, viaFrame]) {
      const r = c.ofType('ready')[0]!;
      expect(r.userId).toBe(userId);
      expect(typeof r.sessionId).toBe('string');
      expect(r.heartbeatMs).toBe(gw.config.WS_HEARTBEAT_MS);
    }
  });

  it('closes with 4401 when no auth frame comes within 5 s', async () => {
    const c = await WsClient.connect(gw.wsUrl);
    clients.push(c);
    expect((await c.closed).code).toBe(4401);
  }, 15_000);

  it('closes with 4401 on a bad token or a frame before auth', async () => {
    const bad = await WsClient.connect(gw.wsUrl);
    bad.send({ type: 'auth', token: 'not-a-jwt' });
    expect((await bad.closed).code).toBe(4401);
    const foreign = await createTestKeys();
    const wrongKey = await WsClient.connect(gw.wsUrl, { token: await foreign.sign(newId()) });
    expect((await wrongKey.closed).code).toBe(4401);
    const early = await WsClient.connect(gw.wsUrl);
    early.send({ type: 'ping' });
    expect((await early.closed).code).toBe(4401);
  });

  it('closes with 4401 when the access token expires, unless a fresh auth frame came first', async () => {
    const userId = newId();
    const short = await WsClient.ready(gw.wsUrl, await keys.sign(userId, { expiresInSec: 2 }));
    const refreshed = await WsClient.ready(gw.wsUrl, await keys.sign(userId, { expiresInSec: 2 }));
    clients.push(refreshed);
    const again = await refreshed.request({ type: 'auth', token: await keys.sign(userId) });
    expect(again.type).toBe('ready');
    expect((await short.closed).code).toBe(4401);
    expect((await refreshed.request({ type: 'ping' })).type).toBe('pong');
  }, 15_000);

  it('refuses an Origin outside the allow-list with 4403 and accepts a listed one', async () => {
    const token = await keys.sign(newId());
    const evil = await WsClient.connect(gw.wsUrl, { token, origin: 'http://evil.test' });
    expect((await evil.closed).code).toBe(4403);
    const good = await WsClient.connect(gw.wsUrl, { token, origin: 'http://allowed.test' });
    clients.push(good);
    await good.next((f) => f.type === 'ready');
  });

  it('answers a plain HTTP GET of /v1/ws (no Upgrade) with the API error shape', async () => {
    const res = await fetch(`${gw.url}/v1/ws`, { headers: { 'x-request-id': 'plain-get-1' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'bad_request', requestId: 'plain-get-1' } });
  });
});

describe('frames', () => {
  it('answers a garbage or invalid frame with an error and keeps the socket', async () => {
    const c = await ready(newId());
    c.ws.send('{not json');
    const e1 = await c.next((f) => f.type === 'error');
    expect(e1.code).toBe('bad_request');
    const e2 = await c.request({ type: 'message.send', conversationId: 'x', content: 1 });
    expect(e2).toMatchObject({ type: 'error', code: 'validation_failed' });
    expect((e2.error as { details: { field: string }[] }).details.map((d) => d.field)).toEqual(
      expect.arrayContaining(['conversationId', 'content', 'clientMessageId']),
    );
    expect((await c.request({ type: 'ping' })).type).toBe('pong');
  });

  it('logs a client frame over the limit below error level (clients must not flood error logs)', async () => {
    const logs = captureLogs();
    const g = await startGateway(infra, {}, { authKeys: keys.jwks, logger: logs.logger });
    try {
      const c = await WsClient.ready(g.wsUrl, await keys.sign(newId()), 'frame');
      c.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(70 * 1024) }));
      expect((await c.closed).code).toBe(1009);
      await eventually(() => logs.text().includes('websocket closed on a protocol error'));
      expect(logs.records().filter((r) => Number(r.level) >= 50)).toEqual([]);
    } finally {
      await g.close();
    }
  });

  it('closes a frame over 64 KiB with 1009', async () => {
    const c = await ready(newId());
    c.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(70 * 1024) }));
    expect((await c.closed).code).toBe(1009);
  });

  it('answers a flood with rate_limited, then closes with 4429', async () => {
    const c = await ready(newId());
    for (let i = 0; i < 120; i++) c.send({ type: 'ping' });
    const e = await c.next((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(e.message).toBeTruthy();
    expect((await c.closed).code).toBe(4429);
  });
});

describe('delivery', () => {
  it('delivers message events to members only, in rev order, each rev once', async () => {
    const conv = newId();
    const [alice, bob, eve] = [newId(), newId(), newId()];
    memberships.add(alice, conv);
    memberships.add(bob, conv);
    const a = await ready(alice);
    const b = await ready(bob);
    const e = await ready(eve);
    const m1 = testMessage(conv, alice, 1);
    const m2 = testMessage(conv, alice, 2);
    const m3 = testMessage(conv, alice, 3);
    publishEvent(infra.bus, 'message.created', conv, { message: m1 });
    publishEvent(infra.bus, 'message.created', conv, { message: m3 });
    publishEvent(infra.bus, 'message.created', conv, { message: m2 });
    publishEvent(infra.bus, 'message.created', conv, { message: m2 });
    for (const c of [a, b]) {
      await c.next((f) => f.type === 'message.created' && (f.message as { rev: number }).rev === 3);
      expect(c.ofType('message.created').map((f) => (f.message as { rev: number }).rev)).toEqual([1, 2, 3]);
    }
    await e.sync();
    expect(e.ofType('message.created')).toHaveLength(0);
  });

  it("makes a second connection of a user ready only once the user's conversations are known", async () => {
    const conv = newId();
    const user = newId();
    memberships.add(user, conv);
    const release = memberships.hold();
    // Two devices at once: the first asks for the user's conversations, the second arrives meanwhile.
    const first = WsClient.ready(gw.wsUrl, await keys.sign(user));
    await sleep(100);
    const second = WsClient.ready(gw.wsUrl, await keys.sign(user));
    setTimeout(release, 300);
    // Whatever happens after the second's `ready` reaches it (and the first).
    const b = await second;
    const m = testMessage(conv, newId(), 1);
    publishEvent(infra.bus, 'message.created', conv, { message: m });
    const a = await first;
    clients.push(a, b);
    for (const c of [a, b]) {
      const got = await c.next((f) => f.type === 'message.created');
      expect((got.message as { id: string }).id).toBe(m.id);
    }
  });

  it('starts delivering to a member added mid-connection and stops for a removed one', async () => {
    const conv = newId();
    const other = newId();
    const [owner, carol] = [newId(), newId()];
    memberships.add(owner, conv);
    memberships.add(carol, other);
    const o = await ready(owner);
    const c = await ready(carol);
    publishEvent(infra.bus, 'member.added', conv, {
      conversationId: conv,
      conversation: conversationFact(conv, owner),
      member: {
        userId: carol,
        role: 'member',
        state: 'active',
        notifications: 'all',
        joinedAt: new Date().toISOString(),
      },
      actorId: owner,
      via: 'added',
    });
    await c.next((f) => f.type === 'member.added' && f.conversationId === conv);
    await o.next((f) => f.type === 'member.added' && f.userId === carol);
    publishEvent(infra.bus, 'message.created', conv, { message: testMessage(conv, owner, 1, 'welcome') });
    await c.next((f) => f.type === 'message.created' && (f.message as { content: string }).content === 'welcome');

    publishEvent(infra.bus, 'member.removed', conv, {
      conversationId: conv,
      userId: carol,
      actorId: owner,
      reason: 'removed',
    });
    await c.next((f) => f.type === 'member.removed' && f.conversationId === conv);
    publishEvent(infra.bus, 'message.created', conv, { message: testMessage(conv, owner, 2, 'secret') });
    // A later event of another conversation proves the removed one had its chance to arrive.
    publishEvent(infra.bus, 'message.created', other, { message: testMessage(other, carol, 1, 'barrier') });
    await c.next((f) => f.type === 'message.created' && (f.message as { content: string }).content === 'barrier');
    await o.next((f) => f.type === 'message.created' && (f.message as { content: string }).content === 'secret');
    expect(c.frames.some((f) => (f.message as { content?: string } | undefined)?.content === 'secret')).toBe(false);
  });

  it('forwards receipts, notifications of the user and conversation updates', async () => {
    const conv = newId();
    const [u1, u2] = [newId(), newId()];
    memberships.add(u1, conv);
    memberships.add(u2, conv);
    const c1 = await ready(u1);
    const c2 = await ready(u2);
    publishEvent(infra.bus, 'receipt.read', conv, {
      conversationId: conv,
      userId: u2,
      seq: 5,
      at: new Date().toISOString(),
    });
    expect(await c1.next((f) => f.type === 'receipt')).toMatchObject({
      conversationId: conv,
      userId: u2,
      kind: 'read',
      seq: 5,
    });
    const notification = {
      id: newId(),
      userId: u2,
      kind: 'message' as const,
      conversationId: conv,
      messageId: newId(),
      title: 't',
      body: 'b',
      readAt: null,
      createdAt: new Date().toISOString(),
    };
    publishEvent(infra.bus, 'notification.created', u2, { notification });
    expect((await c2.next((f) => f.type === 'notification.created')).notification).toMatchObject({
      id: notification.id,
    });
    const fact = conversationFact(conv, u1);
    publishEvent(infra.bus, 'conversation.updated', conv, {
      conversation: { ...fact, title: 'renamed' },
      change: 'updated',
      changedFields: ['title'],
      previous: { title: 'test', status: 'open' },
      actorId: u1,
    });
    expect((await c2.next((f) => f.type === 'conversation.updated')).conversation).toMatchObject({ title: 'renamed' });
    await c1.sync();
    expect(c1.ofType('notification.created')).toHaveLength(0);
  });
});

describe('typing and presence', () => {
  it('relays typing to the other members only, throttled', async () => {
    const conv = newId();
    const [u1, u2] = [newId(), newId()];
    memberships.add(u1, conv);
    memberships.add(u2, conv);
    const c1 = await ready(u1);
    const c2 = await ready(u2);
    await c1.request({ type: 'typing', conversationId: conv, state: 'start' });
    await c1.request({ type: 'typing', conversationId: conv, state: 'start' });
    expect(await c2.next((f) => f.type === 'typing')).toMatchObject({
      conversationId: conv,
      userId: u1,
      state: 'start',
    });
    await c1.request({ type: 'typing', conversationId: conv, state: 'stop' });
    await c2.next((f) => f.type === 'typing' && f.state === 'stop');
    expect(c2.ofType('typing').filter((f) => f.state === 'start')).toHaveLength(1);
    await c1.sync();
    expect(c1.ofType('typing')).toHaveLength(0);
    const denied = await c1.request({ type: 'typing', conversationId: newId(), state: 'start' });
    expect(denied).toMatchObject({ type: 'error', code: 'not_found' });
  });

  it('shows a user online while any device is connected, then offline with lastSeenAt', async () => {
    const conv = newId();
    const [watcher, dana] = [newId(), newId()];
    memberships.add(watcher, conv);
    memberships.add(dana, conv);
    const w = await ready(watcher);
    const phone = await ready(dana);
    expect(await w.next((f) => f.type === 'presence' && f.userId === dana)).toMatchObject({ status: 'online' });
    const laptop = await ready(dana);
    let state = await w.request({ type: 'presence.query', userIds: [dana] });
    expect((state.users as { status: string }[])[0]!.status).toBe('online');

    // A user sharing no conversation with dana learns nothing: offline, never seen
    // (whether dana is on this gateway or only known to the conversation service).
    const stranger = await ready(newId());
    const hidden = await stranger.request({ type: 'presence.query', userIds: [dana, watcher] });
    expect(hidden.users).toEqual([
      { userId: dana, status: 'offline', lastSeenAt: null },
      { userId: watcher, status: 'offline', lastSeenAt: null },
    ]);
    const other = await startGateway(infra, {}, { authKeys: keys.jwks });
    try {
      const remote = await WsClient.ready(other.wsUrl, await keys.sign(newId()), 'frame');
      clients.push(remote);
      const fromAfar = await remote.request({ type: 'presence.query', userIds: [dana] });
      expect(fromAfar.users).toEqual([{ userId: dana, status: 'offline', lastSeenAt: null }]);
      const peer = newId();
      memberships.add(peer, conv);
      const friend = await WsClient.ready(other.wsUrl, await keys.sign(peer), 'frame');
      clients.push(friend);
      const seen = await friend.request({ type: 'presence.query', userIds: [dana] });
      expect((seen.users as { status: string }[])[0]!.status).toBe('online');
    } finally {
      await other.close();
    }

    phone.close();
    await phone.closed;
    state = await w.request({ type: 'presence.query', userIds: [dana] });
    expect((state.users as { status: string }[])[0]!.status).toBe('online');

    laptop.close();
    const offline = await w.next((f) => f.type === 'presence' && f.userId === dana && f.status === 'offline');
    expect(Number.isNaN(Date.parse(String(offline.lastSeenAt)))).toBe(false);
    const after = await eventually(async () => {
      const s = await w.request({ type: 'presence.query', userIds: [dana] });
      const u = (s.users as { status: string; lastSeenAt: string | null }[])[0]!;
      return u.status === 'offline' ? u : null;
    });
    expect(after?.lastSeenAt).toBeTruthy();
  });
});

describe('liveness and flow control', () => {
  it('drops a connection that stops answering heartbeats and shows its user offline', async () => {
    const g = await startGateway(infra, { WS_HEARTBEAT_MS: '200' }, { authKeys: keys.jwks });
    try {
      const conv = newId();
      const [watcher, ghost] = [newId(), newId()];
      memberships.add(watcher, conv);
      memberships.add(ghost, conv);
      const w = await WsClient.ready(g.wsUrl, await keys.sign(watcher));
      clients.push(w);
      const gc = await WsClient.ready(g.wsUrl, await keys.sign(ghost));
      await w.next((f) => f.type === 'presence' && f.userId === ghost && f.status === 'online');
      // The client stops reading (and so stops answering pings) without closing.
      (gc.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const offline = await w.next(
        (f) => f.type === 'presence' && f.userId === ghost && f.status === 'offline',
        10_000,
      );
      expect(offline.lastSeenAt).toBeTruthy();
      (gc.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      await gc.closed;
    } finally {
      await g.close();
    }
  });

  it('closes a reader whose send buffer passes WS_MAX_BUFFERED_BYTES (4408)', async () => {
    const g = await startGateway(infra, { WS_MAX_BUFFERED_BYTES: '1024' }, { authKeys: keys.jwks });
    try {
      const conv = newId();
      const [sender, slow] = [newId(), newId()];
      memberships.add(slow, conv);
      const c = await WsClient.ready(g.wsUrl, await keys.sign(slow));
      (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const big = 'x'.repeat(8000);
      // Bounded: enough to fill the loopback socket buffers several times over.
      for (let rev = 1; rev <= 1500; rev++) {
        publishEvent(infra.bus, 'message.created', conv, { message: testMessage(conv, sender, rev, big) });
        if (rev % 100 === 0) {
          const m = await g.app.inject({ url: '/metrics' });
          if (/ws_slow_consumer_closes_total\S* 1/.test(m.body)) break;
        }
      }
      await eventually(async () =>
        /ws_slow_consumer_closes_total\S* 1/.test((await g.app.inject({ url: '/metrics' })).body),
      );
      (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      const closed = await c.closed;
      expect(closed.code).toBe(4408);
    } finally {
      await g.close();
    }
  }, 30_000);
});

describe('revocation', () => {
  it('closes the revoked session with 4401 and keeps the others', async () => {
    const userId = newId();
    const sessionId = newId();
    const revoked = await WsClient.ready(gw.wsUrl, await keys.sign(userId, { sessionId }));
    const other = await ready(userId);
    publishEvent(infra.bus, 'session.revoked', userId, {
      sessionId,
      userId,
      reason: 'logout',
      revokedAt: new Date().toISOString(),
    });
    expect((await revoked.closed).code).toBe(4401);
    expect((await other.request({ type: 'ping' })).type).toBe('pong');
  });

  it('closes every socket of a deleted account with 4401', async () => {
    const userId = newId();
    const a = await ready(userId);
    const b = await ready(userId);
    publishEvent(infra.bus, 'user.deleted', userId, { userId, deletedAt: new Date().toISOString() });
    expect((await a.closed).code).toBe(4401);
    expect((await b.closed).code).toBe(4401);
  });
});

describe('two gateways', () => {
  it('delivers to users on both gateways from one publish, and presence crosses them', async () => {
    const other = await siblingInfra(infra);
    const memberships2 = new FakeMemberships(other.bus);
    const gw2 = await startGateway(other, {}, { authKeys: keys.jwks });
    try {
      const conv = newId();
      const [onA, onB] = [newId(), newId()];
      memberships.add(onA, conv);
      memberships.add(onB, conv);
      memberships2.add(onA, conv);
      memberships2.add(onB, conv);
      const a = await ready(onA);
      const b = await ready(onB, 'frame', gw2.wsUrl);
      await a.next((f) => f.type === 'presence' && f.userId === onB && f.status === 'online');
      publishEvent(other.bus, 'message.created', conv, { message: testMessage(conv, onB, 1, 'across') });
      for (const c of [a, b]) {
        await c.next((f) => f.type === 'message.created' && (f.message as { content: string }).content === 'across');
      }
      b.close();
      await b.closed;
    } finally {
      await gw2.close();
      memberships2.stop();
      await other.close();
    }
  });
});

describe('shutdown', () => {
  it('closes sockets with 1001 when the gateway closes', async () => {
    const g = await startGateway(infra, {}, { authKeys: keys.jwks });
    const c = await WsClient.ready(g.wsUrl, await keys.sign(newId()));
    await g.close();
    expect((await c.closed).code).toBe(1001);
  });
});
