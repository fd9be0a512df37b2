/**
 * The ceiling: a bare `ws` broadcast server speaking just enough of Parley's
 * frames for the same load-generator clients (`ready`, `message.send` ->
 * `ack` + `message.created` to every socket of the room, serialized once).
 * No auth, no storage, no bus: what one Node process on this machine can
 * fan out, measured in the same run as Parley.
 *
 * Run as a child process: it reports `{ port }` over IPC, answers `stats`
 * with its CPU and peak RSS, and exits on `exit` or when the parent leaves.
 */
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';

const rooms = new Map<string, { sockets: Set<WebSocket>; seq: number }>();

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  backlog: 4096,
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
});

wss.on('connection', (ws, req) => {
  const url = new URL(req.url ?? '/', 'http://bare');
  const userId = url.searchParams.get('c') ?? randomUUID();
  const joined = (url.searchParams.get('rooms') ?? '').split(',').filter(Boolean);
  for (const id of joined) {
    let room = rooms.get(id);
    if (!room) {
      room = { sockets: new Set(), seq: 0 };
      rooms.set(id, room);
    }
    room.sockets.add(ws);
  }
  ws.on('close', () => {
    for (const id of joined) rooms.get(id)?.sockets.delete(ws);
  });
  ws.on('message', (data: Buffer) => {
    let frame: { type?: string; id?: string; conversationId?: string; clientMessageId?: string; content?: string };
    try {
      frame = JSON.parse(data.toString('utf8'));
    } catch {
      return;
    }
    if (frame.type !== 'message.send' || !frame.conversationId) return;
    const room = rooms.get(frame.conversationId);
    if (!room) {
      ws.send(JSON.stringify({ type: 'error', replyTo: frame.id, code: 'not_found', message: 'no such room' }));
      return;
    }
    room.seq++;
    const now = new Date().toISOString();
    const message = {
      id: randomUUID(),
      conversationId: frame.conversationId,
      seq: room.seq,
      rev: room.seq,
      senderId: userId,
      clientMessageId: frame.clientMessageId,
      type: 'text',
      content: frame.content,
      attachments: [],
      mentions: [],
      parentId: null,
      threadRootId: null,
      replyCount: 0,
      system: null,
      createdAt: now,
      editedAt: null,
      deletedAt: null,
    };
    ws.send(JSON.stringify({ type: 'ack', replyTo: frame.id, message }));
    const raw = JSON.stringify({ type: 'message.created', message });
    for (const s of room.sockets) if (s.readyState === s.OPEN) s.send(raw);
  });
  ws.send(JSON.stringify({ type: 'ready', sessionId: randomUUID(), userId, heartbeatMs: 25_000 }));
});

wss.on('listening', () => {
  const addr = wss.address();
  process.send?.({ port: addr && typeof addr === 'object' ? addr.port : 0 });
});

process.on('message', (msg: { cmd: string }) => {
  if (msg.cmd === 'stats') {
    const u = process.resourceUsage();
    process.send?.({ stats: { cpuUserUs: u.userCPUTime, cpuSystemUs: u.systemCPUTime, maxRssKb: u.maxRSS } });
  } else if (msg.cmd === 'exit') {
    for (const c of wss.clients) c.terminate();
    wss.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
