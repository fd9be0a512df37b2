/**
 * Builds the history service on an isolated real infra (fresh database, own
 * bus prefix, own key prefix), with stand-ins for what other services would
 * answer: the auth service's JWKS (a test-only EdDSA key that signs the
 * tokens tests use) and the conversation service's membership answers.
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
import { HistoryConfig } from '../src/config';
import { Directory } from './factories/directory';

export interface TestContext {
  infra: TestInfra;
  app: FastifyInstance;
  config: HistoryConfig;
  directory: Directory;
  auth(userId: string): Promise<{ authorization: string }>;
  /** Publishes a durable event as its producer would (returns the envelope, to publish it again). */
  publish<T extends EventType>(type: T, data: EventData<T>): Promise<AnyEventEnvelope>;
  republish(event: AnyEventEnvelope): Promise<void>;
  close(): Promise<void>;
}

export async function setup(env: Record<string, string> = {}, opts: { logger?: Logger } = {}): Promise<TestContext> {
  const infra = await createTestInfra({ real: true, service: 'history', logger: opts.logger });
  const config = loadConfig(HistoryConfig, env);
  const served: Subscription[] = [];
  try {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const kid = newId();
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
    served.push(infra.bus.serve(RPC.authJwks, () => ({ keys: [jwk] })));

    const directory = new Directory();
    served.push(
      infra.bus.serve(RPC.conversationMembership, (req: { conversationId: string; userId: string }) => {
        directory.membershipRequests++;
        return directory.membershipReply(req.conversationId, req.userId);
      }),
    );

    const ensured = new Set<string>();
    const toWire = async (event: AnyEventEnvelope) => {
      const stream = streamOf(event.type);
      if (!ensured.has(stream)) {
        await infra.bus.ensureStream({ name: STREAMS[stream].name, subjects: STREAMS[stream].subjects });
        ensured.add(stream);
      }
      await infra.bus.publishDurable(subjectOf(event.type, keyOf(event.type, event.data as never)), event);
    };

    let lastAt = 0;
    const ctx: TestContext = {
      infra,
      config,
      directory,
      app: await buildApp(config, infra),
      async auth(userId) {
        const token = await new SignJWT({ sid: newId() })
          .setProtectedHeader({ alg: 'EdDSA', kid })
          .setSubject(userId)
          .setIssuer(config.AUTH_ISSUER)
          .setAudience(config.AUTH_AUDIENCE)
          .setIssuedAt()
          .setExpirationTime('15m')
          .sign(privateKey);
        return { authorization: `Bearer ${token}` };
      },
      async publish(type, data) {
        // Strictly later times for facts published one after the other, as a
        // real producer's would (read models order facts by occurredAt).
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

/** Polls `fn` until `done` accepts its value or the bound passes; returns the last value. */
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
