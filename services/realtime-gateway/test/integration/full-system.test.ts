/**
 * The whole system behind two gateways: the real services run as their own
 * processes (auth, conversation, message, notification, history) on real
 * Postgres, NATS and Redis; users talk to the gateways over REST and real
 * WebSockets, as clients do.
 */
import { newId } from '@parley/service-kit';
import { createTestInfra, requireServers, type TestInfra } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServices, startServices } from '../factories/services';
import { type Frame, type RunningGateway, siblingInfra, startGateway, WsClient } from '../helper';

let infra: TestInfra;
let services: RunningServices;
let gwA: RunningGateway;
let gwB: RunningGateway;
let otherInfra: Awaited<ReturnType<typeof siblingInfra>>;
const clients: WsClient[] = [];

interface Account {
  id: string;
  accessToken: string;
  refreshToken: string;
}

async function api<T = Record<string, unknown>>(
  gw: RunningGateway,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function register(name: string): Promise<Account> {
  const email = `${name.toLowerCase()}-${newId()}@example.com`;
  const password = 'correct horse battery staple';
  const res = await api<{ user: { id: string }; accessToken: string; refreshToken: string }>(
    gwA,
    'POST',
    '/v1/auth/register',
    {
      body: { email, password, passwordConfirm: password, name },
    },
  );
  if (res.status !== 201)
    throw new Error(`register ${res.status}: ${JSON.stringify(res.body)}\n${services.output().slice(-2000)}`);
  return { id: res.body.user.id, accessToken: res.body.accessToken, refreshToken: res.body.refreshToken };
}

async function connect(gw: RunningGateway, who: Account, via: 'header' | 'frame' = 'header') {
  const c = await WsClient.ready(gw.wsUrl, who.accessToken, via);
  clients.push(c);
  return c;
}

const isMsg = (content: string) => (f: Frame) =>
  f.type === 'message.created' && (f.message as { content: string }).content === content;

beforeAll(async () => {
  if (!(await requireServers(['postgres', 'nats', 'redis']))) return;
  infra = await createTestInfra({ service: 'gateway-e2e' });
  services = await startServices(infra, { RATE_LIMIT_SEND_PER_MIN: '120', RATE_LIMIT_SEND_BURST: '60' });
  const env = {
    AUTH_URL: services.urls.auth!,
    CONVERSATION_URL: services.urls.conversation!,
    MESSAGE_URL: services.urls.message!,
    NOTIFICATION_URL: services.urls.notification ?? 'http://127.0.0.1:9',
    HISTORY_URL: services.urls.history ?? 'http://127.0.0.1:9',
    RATE_LIMIT_ANON_PER_MIN: '1000',
    WS_FRAME_RATE_PER_SEC: '500',
  };
  gwA = await startGateway(infra, env);
  otherInfra = await siblingInfra(infra);
  gwB = await startGateway(otherInfra, env);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await gwA?.close();
  await gwB?.close();
  await otherInfra?.close();
  await services?.stop();
  await infra?.close();
}, 60_000);

describe('through the real services', () => {
  let alice: Account;
  let bob: Account;
  let conv: string;

  beforeAll(async () => {
    if (!infra) return;
    alice = await register('Alice');
    bob = await register('Bob');
    const created = await api<{ id: string }>(gwA, 'POST', '/v1/conversations', {
      token: alice.accessToken,
      body: { type: 'group', memberIds: [bob.id], title: 'Team' },
    });
    expect(created.status).toBe(201);
    conv = created.body.id;
  });

  it('sends over WebSocket with ack and idempotency; the member on the other gateway receives it once', async () => {
    const a = await connect(gwA, alice, 'header');
    const b = await connect(gwB, bob, 'frame');
    const clientMessageId = newId();
    const ack = await a.request({ type: 'message.send', conversationId: conv, clientMessageId, content: 'hello bob' });
    expect(ack.type).toBe('ack');
    const message = ack.message as { id: string; senderId: string; rev: number };
    expect(message.senderId).toBe(alice.id);
    const again = await a.request({
      type: 'message.send',
      conversationId: conv,
      clientMessageId,
      content: 'hello bob',
    });
    expect((again.message as { id: string }).id).toBe(message.id);
    await b.next(isMsg('hello bob'));
    await b.next(isMsg('hello bob'));

    // A user on gateway B sends; the user on gateway A receives.
    const fromB = await b.request({
      type: 'message.send',
      conversationId: conv,
      clientMessageId: newId(),
      content: 'hi alice',
    });
    expect(fromB.type).toBe('ack');
    await a.next(isMsg('hi alice'));
    await b.sync();
    expect(b.frames.filter(isMsg('hello bob'))).toHaveLength(1);

    const refused = await a.request({
      type: 'message.send',
      conversationId: newId(),
      clientMessageId: newId(),
      content: 'x',
    });
    expect(refused).toMatchObject({ type: 'error' });
    expect(['not_found', 'forbidden']).toContain(refused.code);
    a.close();
    b.close();
  });

  it('resume after a disconnect delivers exactly the missed changes in rev order', async () => {
    const b = await connect(gwB, bob);
    const marker = await api<{ rev: number }>(gwA, 'POST', `/v1/conversations/${conv}/messages`, {
      token: alice.accessToken,
      body: { clientMessageId: newId(), content: 'before the gap' },
    });
    await b.next(isMsg('before the gap'));
    const cursor = marker.body.rev;
    b.close();
    await b.closed;

    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await api<{ id: string }>(gwA, 'POST', `/v1/conversations/${conv}/messages`, {
        token: alice.accessToken,
        body: { clientMessageId: newId(), content: `missed ${i}` },
      });
      expect(r.status).toBe(201);
      sent.push(r.body.id);
    }
    for (const id of sent.slice(0, 3)) {
      expect(
        (await api(gwA, 'PATCH', `/v1/messages/${id}`, { token: alice.accessToken, body: { content: 'edited' } }))
          .status,
      ).toBe(200);
    }
    for (const id of sent.slice(3, 5)) {
      expect((await api(gwA, 'DELETE', `/v1/messages/${id}`, { token: alice.accessToken })).status).toBe(204);
    }

    const back = await connect(gwB, bob);
    const done = await back.request({ type: 'resume', cursors: [{ conversationId: conv, rev: cursor }] }, 15_000);
    expect(done.type).toBe('resumed');
    const replayed = back.frames
      .filter((f) => f.type.startsWith('message.'))
      .map((f) => ({ ...(f.message as { id: string; rev: number; conversationId: string }), frame: f.type }))
      .filter((m) => m.conversationId === conv && m.rev > cursor);
    const revs = replayed.map((m) => m.rev);
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
    expect(new Set(replayed.map((m) => m.id)).size).toBe(replayed.length);
    expect(replayed.map((m) => m.id).sort()).toEqual([...sent].sort());
    expect(
      replayed
        .filter((m) => m.frame === 'message.updated')
        .map((m) => m.id)
        .sort(),
    ).toEqual(sent.slice(0, 3).sort());
    expect(
      replayed
        .filter((m) => m.frame === 'message.deleted')
        .map((m) => m.id)
        .sort(),
    ).toEqual(sent.slice(3, 5).sort());
    back.close();
  });

  it('a member added mid-connection receives at once; a removed one stops', async () => {
    const carol = await register('Carol');
    const c = await connect(gwB, carol);
    expect(
      (
        await api(gwA, 'POST', `/v1/conversations/${conv}/members`, {
          token: alice.accessToken,
          body: { userIds: [carol.id] },
        })
      ).status,
    ).toBe(200);
    await c.next((f) => f.type === 'member.added' && f.conversationId === conv && f.userId === carol.id);
    await api(gwA, 'POST', `/v1/conversations/${conv}/messages`, {
      token: alice.accessToken,
      body: { clientMessageId: newId(), content: 'welcome carol' },
    });
    await c.next(isMsg('welcome carol'));

    expect(
      (await api(gwA, 'DELETE', `/v1/conversations/${conv}/members/${carol.id}`, { token: alice.accessToken })).status,
    ).toBe(204);
    await c.next((f) => f.type === 'member.removed' && f.conversationId === conv && f.userId === carol.id);
    const a = await connect(gwA, alice);
    await api(gwA, 'POST', `/v1/conversations/${conv}/messages`, {
      token: alice.accessToken,
      body: { clientMessageId: newId(), content: 'after carol left' },
    });
    await a.next(isMsg('after carol left'));
    await c.sync();
    expect(c.frames.some(isMsg('after carol left'))).toBe(false);
    a.close();
    c.close();
  });

  it('read and delivered frames fan out receipts to the other members', async () => {
    const a = await connect(gwA, alice);
    const b = await connect(gwB, bob);
    const sent = await api<{ seq: number }>(gwA, 'POST', `/v1/conversations/${conv}/messages`, {
      token: alice.accessToken,
      body: { clientMessageId: newId(), content: 'read me' },
    });
    const readAck = await b.request({ type: 'read', conversationId: conv, seq: sent.body.seq });
    expect(readAck.type).toBe('ack');
    const receipt = await a.next((f) => f.type === 'receipt' && f.userId === bob.id && f.kind === 'read');
    expect(receipt.seq).toBe(sent.body.seq);
    a.close();
    b.close();
  });

  it('sends past the message rate limit answer rate_limited over WebSocket and 429 over REST', async () => {
    const dave = await register('Dave');
    const group = await api<{ id: string }>(gwA, 'POST', '/v1/conversations', {
      token: dave.accessToken,
      body: { type: 'group', memberIds: [alice.id], title: 'Flood' },
    });
    const d = await connect(gwA, dave);
    // In waves below the gateway's in-flight bound per connection (8), so every send
    // reaches the message service, until its limit (burst 60, 2/s here) answers.
    // Its refusal has no retryAfterMs (the gateway's admission refusals do).
    const limited: Frame[] = [];
    for (let wave = 0; wave < 60 && limited.length === 0; wave++) {
      const replies = await Promise.all(
        Array.from({ length: 5 }, () =>
          d.request(
            { type: 'message.send', conversationId: group.body.id, clientMessageId: newId(), content: 'spam' },
            15_000,
          ),
        ),
      );
      limited.push(...replies.filter((r) => r.type === 'error' && r.code === 'rate_limited' && !('retryAfterMs' in r)));
    }
    expect(limited.length).toBeGreaterThan(0);
    // REST shares the same budget: with the bucket empty, a burst of REST sends meets 429.
    const burst = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(`${gwA.url}/v1/conversations/${group.body.id}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${dave.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ clientMessageId: newId(), content: 'more' }),
        }),
      ),
    );
    const rest = burst.find((r) => r.status === 429);
    expect(rest?.status).toBe(429);
    expect(rest?.headers.get('retry-after')).toBeTruthy();
    d.close();
  });

  it('logout closes the session’s socket with 4401', async () => {
    const b = await connect(gwB, bob);
    const out = await api(gwA, 'POST', '/v1/auth/logout', {
      token: bob.accessToken,
      body: { refreshToken: bob.refreshToken },
    });
    expect(out.status).toBe(204);
    expect((await b.closed).code).toBe(4401);
  });
});
