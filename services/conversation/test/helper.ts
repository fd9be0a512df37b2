/**
 * Integration test harness: the conversation app on an isolated real infra
 * (fresh database, own bus prefix, own key prefix), a stand-in auth service
 * on the same bus (a test-only EdDSA key served on RPC.authJwks, a user
 * directory served on RPC.authUsers), publishers for the events other
 * services would send, and a durable recorder of everything this service
 * publishes.
 */
import {
  type AnyEventEnvelope,
  type EventData,
  type EventType,
  type PublicUser,
  RPC,
  STREAMS,
  keyOf,
  makeEvent,
  streamOf,
  subjectOf,
} from '@parley/contracts';
import { type ConsumerHandle, type ServiceApp, loadConfig, newId } from '@parley/service-kit';
import { type TestInfra, createTestInfra, requireServers } from '@parley/service-kit/testing';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { sql } from 'drizzle-orm';
import { buildApp } from '../src/app';
import { ConversationConfig } from '../src/config';

export interface TestUser extends PublicUser {
  token: string;
}

export interface Harness {
  app: ServiceApp;
  infra: TestInfra;
  config: ConversationConfig;
  /** A user auth knows (answered on RPC.authUsers), with a valid access token. */
  makeUser(name?: string): Promise<TestUser>;
  /** Forgets a user on the auth side (as after account deletion). */
  forgetUser(id: string): void;
  /** Makes the stand-in auth fail user lookups (as when auth is down) or answer again. */
  setAuthUsersDown(down: boolean): void;
  /** Publishes an event as its owning service would (durable, on its stream). */
  publish<T extends EventType>(type: T, data: EventData<T>): Promise<AnyEventEnvelope>;
  /** Every event this service published so far, in stream order. */
  events: AnyEventEnvelope[];
  /** Waits until the outbox is empty and the recorder has seen everything. */
  settle(): Promise<void>;
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

export async function build(overrides: Partial<ConversationConfig> = {}): Promise<Harness> {
  await requireServers(['postgres', 'nats', 'redis']);
  const infra = await createTestInfra({ real: true, service: 'conversation' });
  const config: ConversationConfig = {
    ...loadConfig(ConversationConfig, {}),
    LOG_LEVEL: (process.env.TEST_LOG_LEVEL as ConversationConfig['LOG_LEVEL'] | undefined) ?? 'silent',
    // The shared CI machine can be slow to answer a burst of user lookups; the
    // tests are about outcomes, not the production timeout.
    RPC_TIMEOUT_MS: 10_000,
    ...overrides,
  };

  // Stand-in auth service: signing key and user directory.
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = newId();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const directory = new Map<string, PublicUser>();
  let usersDown = false;
  const subs = [
    infra.bus.serve(RPC.authJwks, () => ({ keys: [jwk] })),
    infra.bus.serve(RPC.authUsers, (req: { ids: string[] }) => {
      if (usersDown) throw new Error('auth is down');
      return { users: req.ids.map((id) => directory.get(id)).filter((u): u is PublicUser => u !== undefined) };
    }),
  ];

  const app = await buildApp(config, infra);

  // Recorder of this service's events: a test durable consumer per domain.
  const events: AnyEventEnvelope[] = [];
  const recorders: ConsumerHandle[] = [];
  for (const filter of ['conversation.>', 'member.>']) {
    recorders.push(
      await infra.bus.consume(
        { stream: 'conversation', durable: `test-recorder-${filter.split('.')[0]}`, filter },
        async (d) => {
          events.push(d.event);
        },
      ),
    );
  }

  const ensured = new Set<string>();
  let counter = 0;

  const harness: Harness = {
    app,
    infra,
    config,
    events,
    async makeUser(name) {
      const id = newId();
      counter += 1;
      const user: PublicUser = {
        id,
        name: name ?? `User ${counter}`,
        avatarUrl: null,
        statusText: null,
        createdAt: new Date().toISOString(),
      };
      directory.set(id, user);
      const token = await new SignJWT({ sid: newId() })
        .setProtectedHeader({ alg: 'EdDSA', kid })
        .setSubject(id)
        .setIssuer(config.AUTH_ISSUER)
        .setAudience(config.AUTH_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('15m')
        .sign(privateKey);
      return { ...user, token };
    },
    forgetUser(id) {
      directory.delete(id);
    },
    setAuthUsersDown(down) {
      usersDown = down;
    },
    async publish(type, data) {
      const stream = streamOf(type);
      if (!ensured.has(stream)) {
        await infra.bus.ensureStream({ name: STREAMS[stream].name, subjects: STREAMS[stream].subjects });
        ensured.add(stream);
      }
      const event = makeEvent(type, data, { id: newId(), producer: 'test' });
      await infra.bus.publishDurable(subjectOf(type, keyOf(type, data)), event as AnyEventEnvelope);
      return event as AnyEventEnvelope;
    },
    async settle() {
      await eventually(async () => {
        const [row] = await infra.db.rows<{ n: number }>(
          sql`select count(*)::int as n from conversation.outbox where published_at is null`,
        );
        if (row!.n !== 0) throw new Error(`outbox still holds ${row!.n} events`);
        // Every row the outbox ever wrote (published rows are kept for a day) was recorded.
        const [all] = await infra.db.rows<{ n: number }>(sql`select count(*)::int as n from conversation.outbox`);
        const seen = new Set(events.map((e) => e.id)).size;
        if (seen !== all!.n) throw new Error(`recorded ${seen} of ${all!.n} events`);
      });
    },
    async close() {
      for (const r of recorders) await r.stop();
      // Tests may replace the app (a restart on the same infra): close the current one.
      await harness.app.close();
      for (const s of subs) s.unsubscribe();
      await infra.close();
    },
  };
  return harness;
}

/** Authorization header of a test user. */
export const as = (user: { token: string }) => ({ authorization: `Bearer ${user.token}` });
