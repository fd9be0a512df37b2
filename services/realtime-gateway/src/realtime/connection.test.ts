import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { Connection } from './connection';

/** A real ws server and client on loopback; the server side wrapped in a Connection. */
async function pair(maxBufferedBytes: number) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const slow: Connection[] = [];
  const serverSide = new Promise<Connection>((resolve) => {
    wss.once('connection', (socket) => {
      const conn = new Connection(
        'c1',
        socket,
        { maxBufferedBytes, frameRatePerSec: 100 },
        {
          onFrameOut: () => {},
          onSlowReader: (c) => slow.push(c),
        },
      );
      conn.state = 'open';
      resolve(conn);
    });
  });
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const received: string[] = [];
  client.on('message', (d) => received.push(d.toString()));
  await new Promise<void>((r, j) => client.once('open', () => r()).once('error', j));
  const conn = await serverSide;
  return {
    conn,
    client,
    received,
    slow,
    close: async () => {
      client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('Connection writes', () => {
  it('sends the frames of one tick in one write, in order, strings and buffers alike', async () => {
    const p = await pair(1 << 20);
    cleanup = p.close;
    const tcp = (p.conn.socket as unknown as { _socket: Socket })._socket;
    let writes = 0;
    const origWritev = tcp._writev?.bind(tcp);
    const origWrite = tcp._write.bind(tcp);
    tcp._writev = (chunks, cb) => {
      writes++;
      origWritev!(chunks, cb);
    };
    tcp._write = (chunk, enc, cb) => {
      writes++;
      origWrite(chunk, enc, cb);
    };
    for (let i = 0; i < 100; i++) p.conn.sendRaw(i % 2 ? Buffer.from(`{"n":${i}}`) : `{"n":${i}}`);
    await expect.poll(() => p.received.length).toBe(100);
    expect(p.received.map((r) => JSON.parse(r).n)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(writes).toBe(1);
  });

  it('still closes a reader that stops reading once its backlog passes the limit', async () => {
    const p = await pair(256 * 1024);
    cleanup = p.close;
    // The client stops reading: the kernel buffers fill, then the server's own buffer grows.
    (p.client as unknown as { _socket: Socket })._socket.pause();
    const frame = Buffer.from(JSON.stringify({ type: 'pong', pad: 'x'.repeat(16 * 1024) }));
    for (let tick = 0; tick < 400 && p.slow.length === 0; tick++) {
      for (let i = 0; i < 16; i++) p.conn.sendRaw(frame);
      await new Promise((r) => setImmediate(r));
    }
    expect(p.slow).toEqual([p.conn]);
  });
});
