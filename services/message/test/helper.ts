/**
 * Integration test harness: the message app on an isolated real infra (fresh
 * database, own bus prefix, own key prefix), stand-ins for the auth service
 * (a test-only EdDSA key on RPC.authJwks, users on RPC.authUsers) and the
 * conversation service (RPC.conversationMembership / Members answered from a
 * `World`, whose changes are published as that service's events), and a
 * recorder of everything this service publishes.
 */
import {
  type AnyEventEnvelope,
  type EventData,
  type EventType,
  type Message,
  RPC,
  STREAMS,
  keyOf,
  makeEvent,
  streamOf,
  subjectOf,
} from '@parley/contracts';
import { type Bus, type ConsumerHandle, loadConfig, newId, type ServiceApp } from '@parley/service-kit';
import { createTestInfra, requireServers, type TestInfra } from '@parley/service-kit/testing';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { buildApp, type BuildOptions } from '../src/app';
import { MessageConfig } from '../src/config';
import { World } from './factories/world';

export interface TestUser {
  id: string;
  name: string;
  token: string;
  auth: { authorization: string };
}

export interface Harness {
  app: ServiceApp;
  infra: TestInfra;
  config: MessageConfig;
  world: World;
  makeUser(name?: string): Promise<TestUser>;
  /** Publishes an event as its owning service would (durable, on its stream). */
  publish<T extends EventType>(type: T, data: EventData<T>): Promise<AnyEventEnvelope>;
  /** Publishes an already built envelope again (a redelivery past the de-duplication window). */
  republish(event: AnyEventEnvelope): Promise<void>;
  /** Every event this service published, in stream order (recorded by a test consumer). */
  events: AnyEventEnvelope[];
  /** Sends a text message over HTTP and returns the stored message (expects 201). */
  send(user: TestUser, conversationId: string, content: string, extra?: Record<string, unknown>): Promise<Message>;
  /** Builds another replica of the app on the same infra (same database, bus and KV). */
  replica(opts?: BuildOptions): Promise<ServiceApp>;
  /** Closes one app (as a replica stopping). */
  closeApp(app: ServiceApp): Promise<void>;
  close(): Promise<void>;
}

/** Polls `check` until it stops throwing (or rethrows its last error after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

export interface HarnessOptions extends BuildOptions {
  /** Record this service's events (default true). */
  record?: boolean;
  /** Wraps the bus the first app publishes with (e.g. to make publishes fail as in a crash). */
  wrapBus?: (bus: Bus) => Bus;
}

export async function build(overrides: Partial<MessageConfig> = {}, opts: HarnessOptions = {}): Promise<Harness> {
  await requireServers(['postgres', 'nats', 'redis']);
  const infra = await createTestInfra({ real: true, service: 'message' });
  const config: MessageConfig = {
    ...loadConfig(MessageConfig, {}),
    LOG_LEVEL: (process.env.TEST_LOG_LEVEL as MessageConfig['LOG_LEVEL'] | undefined) ?? 'silent',
    // Tests send fast; the rate-limit test sets its own limits.
    RATE_LIMIT_SEND_PER_MIN: 100_000,
    RATE_LIMIT_SEND_BURST: 10_000,
    ...overrides,
  };

  // Streams of the other services, with a short de-duplication window so a
  // test can deliver the same event twice (as JetStream may past its window).
  for (const key of ['auth', 'conversation'] as const) {
    await infra.bus.ensureStream({ ...STREAMS[key], duplicateWindowMs: 200 });
  }

  const publish = async <T extends EventType>(type: T, data: EventData<T>): Promise<AnyEventEnvelope> => {
    const producer = streamOf(type);
    const event = makeEvent(type, data, { id: newId(), producer }) as AnyEventEnvelope;
    await infra.bus.publishDurable(subjectOf(type, keyOf(type, data)), event);
    return event;
  };
  const world = new World(publish);

  // Stand-in auth service: signing key and user names.
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = newId();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const subs = [
    infra.bus.serve(RPC.authJwks, () => ({ keys: [jwk] })),
    infra.bus.serve(RPC.authUsers, (req: { ids: string[] }) => world.usersByIds(req)),
    infra.bus.serve(RPC.conversationMembership, (req: { conversationId: string; userId: string }) =>
      world.membership(req),
    ),
    infra.bus.serve(RPC.conversationMembers, (req: { conversationId: string }) => world.membersOf(req)),
  ];

  const apps: ServiceApp[] = [];
  const app = await buildApp(config, opts.wrapBus ? { ...infra, bus: opts.wrapBus(infra.bus) } : infra, opts);
  apps.push(app);

  const events: AnyEventEnvelope[] = [];
  const recorders: ConsumerHandle[] = [];
  if (opts.record !== false) {
    recorders.push(
      await infra.bus.consume({ stream: 'message', durable: 'test-recorder', filter: 'message.>' }, async (d) => {
        events.push(d.event);
      }),
      await infra.bus.consume(
        { stream: 'message', durable: 'test-recorder-receipts', filter: 'receipt.>' },
        async (d) => {
          events.push(d.event);
        },
      ),
    );
  }

  const harness: Harness = {
    app,
    infra,
    config,
    world,
    events,
    publish,
    async republish(event) {
      await new Promise((r) => setTimeout(r, 300)); // past the test streams' de-duplication window
      const data = event.data as EventData<typeof event.type>;
      await infra.bus.publishDurable(subjectOf(event.type, keyOf(event.type, data)), event);
    },
    async makeUser(name) {
      const user = world.addUser(name ?? `User ${world.users.size + 1}`);
      const token = await new SignJWT({ sid: newId() })
        .setProtectedHeader({ alg: 'EdDSA', kid })
        .setSubject(user.id)
        .setIssuedAt()
        .setExpirationTime('15m')
        .setIssuer(config.AUTH_ISSUER)
        .setAudience(config.AUTH_AUDIENCE)
        .sign(privateKey);
      return { id: user.id, name: user.name, token, auth: { authorization: `Bearer ${token}` } };
    },
    async send(user, conversationId, content, extra = {}) {
      const res = await app.inject({
        method: 'POST',
        url: `/v1/conversations/${conversationId}/messages`,
        headers: user.auth,
        payload: { clientMessageId: newId(), content, ...extra },
      });
      if (res.statusCode !== 201) throw new Error(`send answered ${res.statusCode}: ${res.body}`);
      return res.json() as Message;
    },
    async replica(replicaOpts = {}) {
      const other = await buildApp(config, infra, { consumers: false, ...replicaOpts });
      apps.push(other);
      return other;
    },
    async closeApp(one) {
      await one.close();
      apps.splice(apps.indexOf(one), 1);
    },
    async close() {
      for (const r of recorders) await r.stop();
      for (const a of apps) await a.close();
      for (const s of subs) s.unsubscribe();
      await infra.close();
    },
  };
  return harness;
}
