/**
 * The gateway under load, against real NATS and Redis: admission control of
 * WebSocket `message.send` when the message service does not keep up (a
 * stand-in that holds every send until the test releases it), and a shutdown
 * with many sockets that removes their presence before the key-value store
 * closes, logging nothing per socket.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedisKv, newId } from '@parley/service-kit';
import { captureLogs, createTestInfra, requireServers, type TestInfra, testServers } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PresenceRepository } from '../../src/realtime/presence.repository';
import {
  createTestKeys,
  eventually,
  FakeMemberships,
  type RunningGateway,
  sleep,
  startGateway,
  type TestKeys,
  testMessage,
  WsClient,
} from '../helper';

let infra: TestInfra;
let keys: TestKeys;
let memberships: FakeMemberships;

/** A message service that stores nothing until released: every send waits. */
class BlockedMessageService {
  readonly received: string[] = [];
  private held: { res: ServerResponse; conversationId: string; clientMessageId: string }[] = [];
  private blocked = true;
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const match = /^\/v1\/conversations\/([^/]+)\/messages$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"x"}}');
      return;
    }
    const { clientMessageId } = JSON.parse(raw) as { clientMessageId: string };
    this.received.push(clientMessageId);
    const item = { res, conversationId: match[1]!, clientMessageId };
    if (this.blocked) this.held.push(item);
    else this.answer(item);
  }

  private answer(item: { res: ServerResponse; conversationId: string; clientMessageId: string }): void {
    const message = {
      ...testMessage(item.conversationId, newId(), this.received.length),
      clientMessageId: item.clientMessageId,
    };
    item.res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(message));
  }

  release(): void {
    this.blocked = false;
    for (const item of this.held.splice(0)) this.answer(item);
  }

  async close(): Promise<void> {
    this.release();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

beforeAll(async () => {
  if (!(await requireServers(['postgres', 'nats', 'redis']))) return;
  infra = await createTestInfra({ service: 'gateway-load' });
  keys = await createTestKeys();
  memberships = new FakeMemberships(infra.bus);
});

afterAll(async () => {
  memberships?.stop();
  await infra?.close();
});

const sendFrame = (conversationId: string, id: string) => ({
  type: 'message.send',
  id,
  conversationId,
  clientMessageId: newId(),
  content: `hello ${id}`,
});

describe('admission control of message.send', () => {
  it('refuses a send past the bounds at once with retry advice, stores nothing of it, and stays responsive', async () => {
    const upstream = new BlockedMessageService();
    await upstream.start();
    const gw = await startGateway(
      infra,
      { MESSAGE_URL: upstream.url, WS_SENDS_IN_FLIGHT_PER_CONNECTION: '2', WS_SENDS_IN_FLIGHT_MAX: '3' },
      { authKeys: keys.jwks },
    );
    const clients: WsClient[] = [];
    try {
      const conv = newId();
      const [alice, bob] = [newId(), newId()];
      memberships.add(alice, conv);
      memberships.add(bob, conv);
      const a = await WsClient.ready(gw.wsUrl, await keys.sign(alice));
      const b = await WsClient.ready(gw.wsUrl, await keys.sign(bob));
      clients.push(a, b);

      // Alice fills her connection's bound: both sends wait at the message service.
      const s1 = sendFrame(conv, 's1');
      const s2 = sendFrame(conv, 's2');
      a.send(s1);
      a.send(s2);
      await eventually(() => upstream.received.length === 2);

      // A third is refused at once, in API.md's error shape, with retry advice.
      const s3 = sendFrame(conv, 's3');
      const refused = await a.request(s3);
      expect(refused).toMatchObject({
        type: 'error',
        replyTo: 's3',
        code: 'rate_limited',
        error: { code: 'rate_limited' },
      });
      expect(refused.retryAfterMs).toEqual(expect.any(Number));
      expect(refused.retryAfterMs as number).toBeGreaterThan(0);
      // The socket and the gateway stay responsive meanwhile.
      expect((await a.request({ type: 'ping' })).type).toBe('pong');

      // Bob's first send takes the gateway's last slot; his second finds the gateway full.
      const t1 = sendFrame(conv, 't1');
      b.send(t1);
      await eventually(() => upstream.received.length === 3);
      const t2 = sendFrame(conv, 't2');
      expect(await b.request(t2)).toMatchObject({
        type: 'error',
        replyTo: 't2',
        code: 'unavailable',
        retryAfterMs: expect.any(Number),
      });
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);

      // The refused sends never reached the message service: nothing of them is stored.
      expect(upstream.received.sort()).toEqual([s1.clientMessageId, s2.clientMessageId, t1.clientMessageId].sort());
      const metrics = (await gw.app.inject({ url: '/metrics' })).body;
      expect(metrics).toMatch(/ws_sends_refused_total\{bound="connection"[^}]*\} 1\n/);
      expect(metrics).toMatch(/ws_sends_refused_total\{bound="gateway"[^}]*\} 1\n/);

      // Once the message service answers, the waiting sends are acknowledged and a retry goes through.
      upstream.release();
      for (const id of ['s1', 's2']) await a.next((f) => f.type === 'ack' && f.replyTo === id);
      await b.next((f) => f.type === 'ack' && f.replyTo === 't1');
      const retried = await a.request({ ...s3, id: 's3-again' });
      expect(retried).toMatchObject({ type: 'ack', replyTo: 's3-again' });
      expect((retried.message as { clientMessageId: string }).clientMessageId).toBe(s3.clientMessageId);
    } finally {
      for (const c of clients) c.close();
      await gw.close();
      await upstream.close();
    }
  });
});

describe('shutdown', () => {
  it('closes many sockets with 1001 and removes their presence before the store closes, with no warning per socket', async () => {
    const logs = captureLogs();
    // The gateway's own store, closed right after the app as closeInfra does in production.
    const prefix = `${infra.kvPrefix}shutdown:`;
    const kv = createRedisKv({ url: testServers().redisUrl, prefix, logger: infra.logger });
    const gw: RunningGateway = await startGateway(
      { db: infra.db, bus: infra.bus, kv, logger: infra.logger },
      {},
      { authKeys: keys.jwks, logger: logs.logger },
    );
    const users = Array.from({ length: 100 }, () => newId());
    const conv = newId();
    for (const u of users) memberships.add(u, conv);
    const clients: WsClient[] = [];
    for (const u of users) {
      const token = await keys.sign(u);
      clients.push(...(await Promise.all([WsClient.ready(gw.wsUrl, token), WsClient.ready(gw.wsUrl, token)])));
    }
    const check = new PresenceRepository(kv, 60_000);
    await eventually(async () => (await check.query(users)).every((p) => p.status === 'online'));

    await gw.close();
    await kv.close();
    const codes = await Promise.all(clients.map(async (c) => (await c.closed).code));
    expect(new Set(codes)).toEqual(new Set([1001]));
    // Give any socket closing late the chance to (wrongly) reach the closed store.
    await sleep(300);
    const warnings = logs.records().filter((r) => Number(r.level) >= 40);
    expect(warnings).toEqual([]);

    // Nobody is left online by the gateway that went away.
    const after = createRedisKv({ url: testServers().redisUrl, prefix, logger: infra.logger });
    try {
      const presence = await new PresenceRepository(after, 60_000).query(users);
      expect(presence.filter((p) => p.status !== 'offline')).toEqual([]);
    } finally {
      await after.close();
    }
  }, 30_000);
});
