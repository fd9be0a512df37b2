import type { Message } from '@parley/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { HttpClient } from './http-client';
import { memoryQueue } from './queue-store';
import { RealtimeConnection, type WebSocketLike } from './realtime';

/** A scripted stand-in for the gateway's socket: records frames, lets the test answer. */
class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  push(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  framesOf(type: string) {
    return this.sent.filter((f) => f.type === type);
  }
}

const conv = '0190f3a2-7b1c-7d2e-8f00-112233445566';
function msg(rev: number, over: Partial<Message> = {}): Message {
  return {
    id: `0190f3a2-7b1c-7d2e-8f00-${String(rev).padStart(12, '0')}`,
    conversationId: conv,
    seq: rev,
    rev,
    senderId: null,
    clientMessageId: null,
    type: 'text',
    content: `m${rev}`,
    attachments: [],
    mentions: [],
    parentId: null,
    threadRootId: null,
    replyCount: 0,
    system: null,
    createdAt: new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
    ...over,
  };
}

async function connected(opts: Partial<ConstructorParameters<typeof RealtimeConnection>[0]> = {}) {
  const http = new HttpClient({ baseUrl: 'http://gw.test', tokens: { accessToken: 'a', refreshToken: 'r' } });
  const rt = new RealtimeConnection({ http, WebSocket: FakeSocket, backoff: { initialMs: 1, maxMs: 2 }, ...opts });
  await vi.waitFor(() => expect(FakeSocket.all.at(-1)?.framesOf('auth')).toHaveLength(1));
  const ws = FakeSocket.all.at(-1)!;
  ws.push({ type: 'ready', sessionId: 's', userId: 'u', heartbeatMs: 60_000 });
  return { rt, ws, http };
}

afterEach(() => {
  FakeSocket.all = [];
});

describe('RealtimeConnection', () => {
  it('takes the ws package WebSocket as it is (Node 20), typed and at run time', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const frames: unknown[] = [];
    server.on('connection', (socket) => {
      socket.on('message', (data) => {
        frames.push(JSON.parse(String(data)));
        socket.send(JSON.stringify({ type: 'ready', sessionId: 's', userId: 'u', heartbeatMs: 60_000 }));
      });
    });
    const { port } = server.address() as { port: number };
    const http = new HttpClient({
      baseUrl: `http://127.0.0.1:${port}`,
      tokens: { accessToken: 'a', refreshToken: 'r' },
    });
    // No cast: this line is what README and docs/api-examples.md tell Node users to write.
    const rt = new RealtimeConnection({ http, WebSocket });
    try {
      await vi.waitFor(() => expect(rt.state).toBe('open'));
      expect(frames).toEqual([{ type: 'auth', token: 'a' }]);
    } finally {
      rt.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('authenticates with the first frame against the ws URL of the gateway', async () => {
    const { rt, ws } = await connected();
    expect(ws.url).toBe('ws://gw.test/v1/ws');
    expect(ws.framesOf('auth')[0]).toEqual({ type: 'auth', token: 'a' });
    expect(rt.state).toBe('open');
    rt.close();
  });

  it('hands message events over in rev order, each once, holding events that arrive ahead of a gap', async () => {
    const { rt, ws } = await connected({ gapWaitMs: 10_000 });
    const seen: number[] = [];
    rt.on('message.created', ({ message }) => seen.push(message.rev));
    rt.track(conv, 1);
    ws.push({ type: 'message.created', message: msg(3) });
    ws.push({ type: 'message.created', message: msg(2) });
    ws.push({ type: 'message.created', message: msg(2) });
    ws.push({ type: 'message.created', message: msg(1) });
    ws.push({ type: 'message.created', message: msg(4) });
    expect(seen).toEqual([2, 3, 4]);
    rt.close();
  });

  it('asks for a gap with resume, and after the resume hands over what it held', async () => {
    const { rt, ws } = await connected({ gapWaitMs: 5 });
    const seen: number[] = [];
    rt.on('message.created', ({ message }) => seen.push(message.rev));
    rt.track(conv, 5);
    ws.push({ type: 'message.created', message: msg(8) });
    await vi.waitFor(() => expect(ws.framesOf('resume')).toHaveLength(1));
    const resume = ws.framesOf('resume')[0]!;
    expect(resume.cursors).toEqual([{ conversationId: conv, rev: 5 }]);
    ws.push({ type: 'message.created', message: msg(6) });
    ws.push({ type: 'resumed', replyTo: resume.id });
    await vi.waitFor(() => expect(seen).toEqual([6, 8]));
    rt.close();
  });

  it('keeps unsent messages across a reconnect and resends them with the same clientMessageId', async () => {
    const store = memoryQueue();
    const { rt, ws } = await connected({ queueStore: store });
    ws.close(1006);
    expect(rt.state).toBe('offline');
    const sending = rt.send(conv, { content: 'while offline' });
    expect(store.load()).toHaveLength(1);
    const cmid = store.load()[0]!.clientMessageId;
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(2));
    const ws2 = FakeSocket.all[1]!;
    await vi.waitFor(() => expect(ws2.framesOf('auth')).toHaveLength(1));
    ws2.push({ type: 'ready', sessionId: 's', userId: 'u', heartbeatMs: 60_000 });
    await vi.waitFor(() => expect(ws2.framesOf('message.send')).toHaveLength(1));
    const frame = ws2.framesOf('message.send')[0]!;
    expect(frame.clientMessageId).toBe(cmid);
    ws2.push({ type: 'ack', replyTo: frame.id, message: msg(1, { clientMessageId: cmid }) });
    const stored = await sending;
    expect(stored.clientMessageId).toBe(cmid);
    expect(store.load()).toHaveLength(0);
    rt.close();
  });

  it('resumes every tracked conversation after a reconnect', async () => {
    const { rt, ws } = await connected();
    ws.push({ type: 'message.created', message: msg(1) });
    ws.push({ type: 'message.created', message: msg(2) });
    ws.close(1001);
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(2));
    const ws2 = FakeSocket.all[1]!;
    await vi.waitFor(() => expect(ws2.framesOf('auth')).toHaveLength(1));
    ws2.push({ type: 'ready', sessionId: 's', userId: 'u', heartbeatMs: 60_000 });
    await vi.waitFor(() => expect(ws2.framesOf('resume')).toHaveLength(1));
    expect(ws2.framesOf('resume')[0]!.cursors).toEqual([{ conversationId: conv, rev: 2 }]);
    rt.close();
  });

  it('sends the message type as messageType so it cannot replace the frame type', async () => {
    const { rt, ws } = await connected();
    void rt.send(conv, { content: 'a picture', type: 'image' }).catch(() => {});
    await vi.waitFor(() => expect(ws.framesOf('message.send')).toHaveLength(1));
    expect(ws.framesOf('message.send')[0]).toMatchObject({ type: 'message.send', messageType: 'image' });
    rt.close();
  });

  it('rejects a send the server refuses for good and drops it from the queue', async () => {
    const { rt, ws } = await connected();
    const sending = rt.send(conv, { content: 'x' });
    await vi.waitFor(() => expect(ws.framesOf('message.send')).toHaveLength(1));
    const frame = ws.framesOf('message.send')[0]!;
    ws.push({ type: 'error', replyTo: frame.id, error: { code: 'forbidden', message: 'muted' } });
    await expect(sending).rejects.toMatchObject({ code: 'forbidden' });
    expect(rt.queued).toHaveLength(0);
    rt.close();
  });

  it('keeps a send refused for now queued and sends it again after retryAfterMs on the same connection', async () => {
    const { rt, ws } = await connected();
    const sending = rt.send(conv, { content: 'busy gateway' });
    await vi.waitFor(() => expect(ws.framesOf('message.send')).toHaveLength(1));
    const first = ws.framesOf('message.send')[0]!;
    ws.push({
      type: 'error',
      replyTo: first.id,
      code: 'rate_limited',
      message: 'too many sends in flight',
      retryAfterMs: 20,
      error: { code: 'rate_limited', message: 'too many sends in flight' },
    });
    expect(rt.queued).toHaveLength(1);
    await vi.waitFor(() => expect(ws.framesOf('message.send')).toHaveLength(2));
    const again = ws.framesOf('message.send')[1]!;
    expect(again.clientMessageId).toBe(first.clientMessageId);
    expect(FakeSocket.all).toHaveLength(1);
    ws.push({ type: 'ack', replyTo: again.id, message: msg(1, { clientMessageId: String(first.clientMessageId) }) });
    expect((await sending).clientMessageId).toBe(first.clientMessageId);
    expect(rt.queued).toHaveLength(0);
    rt.close();
  });

  it('stays closed when the session ended and the refresh fails', async () => {
    const fetchImpl = vi.fn(
      async () => new Response(JSON.stringify({ error: { code: 'unauthorized' } }), { status: 401 }),
    );
    const http = new HttpClient({
      baseUrl: 'http://gw.test',
      tokens: { accessToken: 'a', refreshToken: 'r' },
      fetch: fetchImpl as unknown as typeof fetch,
    });
    const rt = new RealtimeConnection({ http, WebSocket: FakeSocket, backoff: { initialMs: 1, maxMs: 2 } });
    const ended = new Promise((resolve) => rt.on('unauthorized', resolve));
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(1));
    FakeSocket.all[0]!.close(4401);
    await ended;
    expect(rt.state).toBe('closed');
    expect(http.getTokens()).toBeNull();
  });
});
