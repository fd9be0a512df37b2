/**
 * SDK-side helpers of the end-to-end tests: users made through the public
 * API, a switchable network for the SDK's WebSockets (cut every socket and
 * refuse new ones, then restore), a recorder of what the SDK hands to the
 * application, and polling with a deadline for what API.md allows to lag.
 */
import { randomBytes } from 'node:crypto';
import type { Message, User } from '@parley/contracts';
import { ParleyClient, type RealtimeConnection, type WebSocketCtor, type WebSocketLike } from '@parley/sdk';
import WebSocket from 'ws';

export const PASSWORD = 'correct horse battery staple';

export interface TestUser {
  client: ParleyClient;
  user: User;
  email: string;
}

/** Registers a user through the gateway; `name` must be a valid display name (letters). */
export async function registerUser(baseUrl: string, name: string): Promise<TestUser> {
  const client = new ParleyClient({ baseUrl });
  const email = `${name.toLowerCase().replace(/[^a-z]/g, '')}-${randomBytes(4).toString('hex')}@example.com`;
  const { user } = await client.auth.register({ email, password: PASSWORD, passwordConfirm: PASSWORD, name });
  return { client, user, email };
}

/** Polls `check` until it stops throwing or `timeoutMs` passes (then rethrows its last failure). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

/** A socket that never connects: what the SDK meets while the network is down. */
class UnreachableSocket implements WebSocketLike {
  readonly readyState = 3;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor() {
    setTimeout(() => {
      this.onerror?.({});
      this.onclose?.({ code: 1006, reason: 'unreachable' });
    }, 0);
  }
  send(): void {
    throw new Error('not connected');
  }
  close(): void {}
}

/**
 * The SDK's view of the network. `cut()` drops every open socket the way a
 * lost link does (no close handshake) and makes new ones fail until
 * `restore()`.
 */
export class Network {
  private online = true;
  private readonly open = new Set<WebSocket>();
  /** How many sockets the SDK opened successfully (reconnects included). */
  connections = 0;

  readonly WebSocket: WebSocketCtor;

  constructor() {
    const network = this;
    function SwitchedSocket(url: string): WebSocketLike {
      if (!network.online) return new UnreachableSocket();
      const ws = new WebSocket(url);
      network.open.add(ws);
      ws.once('open', () => {
        network.connections += 1;
      });
      ws.once('close', () => network.open.delete(ws));
      return ws as unknown as WebSocketLike;
    }
    // A constructor function returning its own object is how `new` yields
    // either a real or an unreachable socket; the SDK only calls `new`.
    this.WebSocket = SwitchedSocket as unknown as WebSocketCtor;
  }

  cut(): void {
    this.online = false;
    for (const ws of this.open) ws.terminate();
  }

  restore(): void {
    this.online = true;
  }
}

export interface Delivered {
  type: 'message.created' | 'message.updated' | 'message.deleted';
  message: Message;
}

/** Everything the SDK handed to the application, in order. */
export function recordMessages(rt: RealtimeConnection): {
  events: Delivered[];
  of(conversationId: string): Delivered[];
} {
  const events: Delivered[] = [];
  for (const type of ['message.created', 'message.updated', 'message.deleted'] as const) {
    rt.on(type, ({ message }) => events.push({ type, message }));
  }
  return { events, of: (conversationId) => events.filter((e) => e.message.conversationId === conversationId) };
}

/** Resolves when the connection is `open` (authenticated and ready). */
export function whenOpen(rt: RealtimeConnection, timeoutMs = 10_000): Promise<void> {
  return eventually(() => {
    if (rt.state !== 'open') throw new Error(`realtime connection is ${rt.state}`);
  }, timeoutMs);
}
