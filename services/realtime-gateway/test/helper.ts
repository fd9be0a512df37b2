/**
 * Test helpers: a gateway built on a test infra and listening on an
 * ephemeral port (real WebSocket clients need a socket), test access tokens
 * (a test-only EdDSA key), a stand-in for the conversation service's
 * membership RPCs, and a small WebSocket client that records frames.
 */
import type { AddressInfo } from 'node:net';
import { type EventData, type EventType, makeEvent, type MembershipReply, RPC, subjectOf } from '@parley/contracts';
import {
  type Bus,
  createNatsBus,
  createRedisKv,
  type Infra,
  type JWKSource,
  loadConfig,
  newId,
  type Subscription,
} from '@parley/service-kit';
import { type TestInfra, testServers } from '@parley/service-kit/testing';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import WebSocket from 'ws';
import { buildApp } from '../src/app';
import { GatewayConfig } from '../src/config';

// ---- tokens -------------------------------------------------------------------

export interface TestKeys {
  jwks: JWKSource;
  sign(userId: string, opts?: { sessionId?: string; expiresInSec?: number; issuer?: string }): Promise<string>;
}

export async function createTestKeys(issuer = 'parley', audience = 'parley'): Promise<TestKeys> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'gateway-test', alg: 'EdDSA', use: 'sig' };
  return {
    jwks: async () => ({ keys: [jwk] }),
    async sign(userId, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sid: opts.sessionId ?? newId() })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'gateway-test' })
        .setSubject(userId)
        .setIssuer(opts.issuer ?? issuer)
        .setAudience(audience)
        .setIssuedAt(now)
        .setExpirationTime(now + (opts.expiresInSec ?? 900))
        .sign(privateKey);
    },
  };
}

// ---- memberships (stand-in for the conversation service's RPC) ------------------

export class FakeMemberships {
  private readonly byUser = new Map<string, Set<string>>();
  private readonly subs: Subscription[];
  /** While set, answers to the memberships RPC wait for it (see hold()). */
  private gate: Promise<void> | null = null;

  constructor(bus: Bus) {
    this.subs = [
      bus.serve<{ userId: string }, { conversationIds: string[] }>(RPC.conversationMemberships, async (req) => {
        await this.gate;
        return { conversationIds: [...(this.byUser.get(req.userId) ?? [])] };
      }),
      bus.serve<{ conversationId: string; userId: string }, MembershipReply>(RPC.conversationMembership, (req) => {
        const member = this.byUser.get(req.userId)?.has(req.conversationId) ?? false;
        const now = new Date().toISOString();
        return member
          ? {
              conversation: conversationFact(req.conversationId, req.userId),
              member: { userId: req.userId, role: 'member', state: 'active', notifications: 'all', joinedAt: now },
            }
          : { conversation: null, member: null };
      }),
    ];
  }

  /** Holds every memberships answer until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((r) => {
      release = r;
    });
    return () => {
      this.gate = null;
      release();
    };
  }

  add(userId: string, ...conversationIds: string[]): void {
    const set = this.byUser.get(userId) ?? new Set();
    for (const c of conversationIds) set.add(c);
    this.byUser.set(userId, set);
  }

  remove(userId: string, conversationId: string): void {
    this.byUser.get(userId)?.delete(conversationId);
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
  }
}

export function conversationFact(id: string, createdBy: string) {
  const now = new Date().toISOString();
  return {
    id,
    type: 'group' as const,
    title: 'test',
    visibility: 'private' as const,
    status: 'open' as const,
    maxMembers: 50,
    memberCount: 2,
    metadata: {},
    createdBy,
    createdAt: now,
    updatedAt: now,
  };
}

/** Publishes an event as the owning service's relay would (core subscribers see JetStream publishes too). */
export function publishEvent<T extends EventType>(bus: Bus, type: T, key: string, data: EventData<T>): void {
  bus.publish(subjectOf(type, key), makeEvent(type, data, { id: newId(), producer: 'test' }));
}

export function testMessage(conversationId: string, senderId: string, rev: number, content = `m${rev}`) {
  return {
    id: newId(),
    conversationId,
    seq: rev,
    rev,
    senderId,
    clientMessageId: newId(),
    type: 'text' as const,
    content,
    attachments: [],
    mentions: [],
    parentId: null,
    threadRootId: null,
    replyCount: 0,
    system: null,
    createdAt: new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
  };
}

// ---- gateways ---------------------------------------------------------------------

export interface RunningGateway {
  app: FastifyInstance;
  config: GatewayConfig;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

export function gatewayConfig(env: Record<string, string | undefined> = {}): GatewayConfig {
  return loadConfig(GatewayConfig, { LOG_LEVEL: 'silent', ...env });
}

export async function startGateway(
  infra: Infra,
  env: Record<string, string | undefined> = {},
  opts: { authKeys?: JWKSource; logger?: Logger } = {},
): Promise<RunningGateway> {
  const config = gatewayConfig(env);
  const app = await buildApp(config, infra, { authKeys: opts.authKeys, logger: opts.logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    close: () => app.close(),
  };
}

/**
 * A second "process" on the same deployment: its own NATS and Redis
 * connections under the same prefixes as `infra` (the database is not used by
 * the gateway and is shared).
 */
export async function siblingInfra(infra: TestInfra): Promise<Infra & { close(): Promise<void> }> {
  const servers = testServers();
  const bus = await createNatsBus({
    url: servers.natsUrl,
    prefix: infra.busPrefix,
    name: 'gateway-b',
    logger: infra.logger,
  });
  const kv = createRedisKv({ url: servers.redisUrl, prefix: infra.kvPrefix, logger: infra.logger });
  return {
    db: infra.db,
    bus,
    kv,
    logger: infra.logger,
    async close() {
      await bus.close();
      await kv.close();
    },
  };
}

/** The same infra with its own key prefix (under the original, so cleanup covers it): fresh rate-limit counters. */
export function withOwnKeys(infra: TestInfra, label: string): Infra & { close(): Promise<void> } {
  const kv = createRedisKv({ url: testServers().redisUrl, prefix: `${infra.kvPrefix}${label}:`, logger: infra.logger });
  return { db: infra.db, bus: infra.bus, kv, logger: infra.logger, close: () => kv.close() };
}

// ---- WebSocket client ----------------------------------------------------------------

export type Frame = { type: string; [k: string]: unknown };

export class WsClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static connect(url: string, opts: { token?: string; origin?: string } = {}): Promise<WsClient> {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const ws = new WebSocket(url, { headers, origin: opts.origin, perMessageDeflate: false });
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** Connects and authenticates (header or first frame), resolving after `ready`. */
  static async ready(url: string, token: string, via: 'header' | 'frame' = 'frame'): Promise<WsClient> {
    const c = await WsClient.connect(url, via === 'header' ? { token } : {});
    if (via === 'frame') c.send({ type: 'auth', token });
    await c.next((f) => f.type === 'ready');
    return c;
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first frame (already received or coming) that matches. */
  next(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const have = this.frames.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Sends a frame with an id and waits for its reply. */
  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<Frame> {
    const id = (frame.id as string | undefined) ?? `r${Math.random().toString(36).slice(2)}`;
    const reply = this.next((f) => f.replyTo === id, timeoutMs);
    this.send({ ...frame, id });
    return reply;
  }

  /** A ping round trip: every frame sent before it has been handled by the gateway. */
  async sync(): Promise<void> {
    await this.request({ type: 'ping' });
  }

  ofType(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(): void {
    this.ws.close();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` returns a truthy value or the time runs out. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000, stepMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(stepMs);
  }
}
