/**
 * Builds the notification service on an isolated real infra (fresh database,
 * own bus prefix, own key prefix), with stand-ins for what other services
 * would answer: the auth service's JWKS (a test-only EdDSA key that signs
 * the tokens tests use) and users, and the conversation service's members.
 * `close()` stops everything and removes what it created.
 */
import {
  type AnyEventEnvelope,
  type EventData,
  type EventType,
  keyOf,
  makeEvent,
  RPC,
  STREAMS,
  streamOf,
  subjectOf,
} from '@parley/contracts';
import { loadConfig, newId, type Subscription } from '@parley/service-kit';
import { createTestInfra, type TestInfra } from '@parley/service-kit/testing';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Logger } from 'pino';
import { buildApp } from '../src/app';
import { NotificationConfig } from '../src/config';
import { Directory, type MembersAnswer } from './factories/directory';

export interface TestContext {
  infra: TestInfra;
  app: FastifyInstance;
  config: NotificationConfig;
  directory: Directory;
  /** A valid access token for the user. */
  token(userId: string): Promise<string>;
  /** Authorization header for the user. */
  auth(userId: string): Promise<{ authorization: string }>;
  /** Publishes a durable event as its producer would (returns the envelope, to publish it again). */
  publish<T extends EventType>(type: T, data: EventData<T>): Promise<AnyEventEnvelope>;
  /** Publishes an exact envelope again (same id). */
  republish(event: AnyEventEnvelope): Promise<void>;
  /** Restarts the app on the same infra (stands for a service restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function setup(env: Record<string, string> = {}, opts: { logger?: Logger } = {}): Promise<TestContext> {
  const infra = await createTestInfra({ real: true, service: 'notification', logger: opts.logger });
  const config = loadConfig(NotificationConfig, env);
  const served: Subscription[] = [];
  try {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const kid = newId();
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
    served.push(infra.bus.serve(RPC.authJwks, () => ({ keys: [jwk] })));

    const directory = new Directory();
    served.push(
      infra.bus.serve(RPC.authUsers, (req: { ids: string[] }) => ({ users: directory.publicUsers(req.ids) })),
    );
    served.push(
      infra.bus.serve(RPC.conversationMembers, (req: { conversationId: string }): MembersAnswer => {
        directory.membersRequests++;
        if (directory.membersDown) throw new Error('conversation service unavailable');
        return directory.membersReply(req.conversationId);
      }),
    );

    let lastAt = 0;
    const ensured = new Set<string>();
    const toWire = async (event: AnyEventEnvelope) => {
      const stream = streamOf(event.type);
      if (!ensured.has(stream)) {
        await infra.bus.ensureStream({ name: STREAMS[stream].name, subjects: STREAMS[stream].subjects });
        ensured.add(stream);
      }
      await infra.bus.publishDurable(subjectOf(event.type, keyOf(event.type, event.data as never)), event);
    };

    const token = async (userId: string) =>
      new SignJWT({ sid: newId() })
        .setProtectedHeader({ alg: 'EdDSA', kid })
        .setSubject(userId)
        .setIssuer(config.AUTH_ISSUER)
        .setAudience(config.AUTH_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('15m')
        .sign(privateKey);

    const ctx: TestContext = {
      infra,
      config,
      directory,
      app: await buildApp(config, infra),
      token,
      auth: async (userId) => ({ authorization: `Bearer ${await token(userId)}` }),
      async publish(type, data) {
        // Facts published one after the other get strictly later times, as a
        // real producer's would: the read model orders facts by occurredAt, and
        // two in the same millisecond may be applied by different consumers in
        // either order.
        lastAt = Math.max(Date.now(), lastAt + 1);
        const event = makeEvent(type, data, {
          id: newId(),
          producer: 'test',
          occurredAt: new Date(lastAt),
        }) as AnyEventEnvelope;
        await toWire(event);
        return event;
      },
      republish: toWire,
      async restart() {
        await ctx.app.close();
        ctx.app = await buildApp(config, infra);
      },
      async close() {
        try {
          await ctx.app.close();
        } finally {
          for (const s of served) s.unsubscribe();
          await infra.close();
        }
      },
    };
    return ctx;
  } catch (err) {
    for (const s of served) s.unsubscribe();
    await infra.close();
    throw err;
  }
}

/** Polls `fn` until it returns a value `done` accepts (bounded wait; eventual consistency). */
export async function eventually<T>(
  fn: () => Promise<T>,
  done: (value: T) => boolean,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: T = await fn();
  while (!done(last)) {
    if (Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
    last = await fn();
  }
  return last;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
