/**
 * The same service on the embedded stand-ins of the standalone mode (PGlite,
 * in-memory bus and key-value): migrations, consumers, outbox and routes
 * work there too. Needs no server.
 */
import {
  type AnyEventEnvelope,
  type EventData,
  type EventType,
  keyOf,
  makeEvent,
  type Notification,
  RPC,
  STREAMS,
  subjectOf,
} from '@parley/contracts';
import { loadConfig, newId } from '@parley/service-kit';
import { createTestInfra, type TestInfra } from '@parley/service-kit/testing';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { NotificationConfig } from '../../src/config';
import { Directory } from '../factories/directory';
import { eventually } from '../helper';

let infra: TestInfra;
let app: FastifyInstance;
let token: (userId: string) => Promise<string>;

beforeAll(async () => {
  infra = await createTestInfra({ real: false, service: 'notification' });
  const config = loadConfig(NotificationConfig, {});
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = newId();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  infra.bus.serve(RPC.authJwks, () => ({ keys: [jwk] }));
  token = (userId) =>
    new SignJWT({ sid: newId() })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setSubject(userId)
      .setIssuer(config.AUTH_ISSUER)
      .setAudience(config.AUTH_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('15m')
      .sign(privateKey);
  app = await buildApp(config, infra);
});
afterAll(async () => {
  await app?.close();
  await infra?.close();
});

it('notifies, announces and marks read on PGlite and the in-memory bus', async () => {
  const directory = new Directory();
  const ada = directory.makeUser('Ada');
  const bob = directory.makeUser('Bob');
  const created = directory.makeGroup(ada, [bob]);
  const conv = created.conversation.id;
  for (const s of [STREAMS.auth, STREAMS.conversation, STREAMS.message]) await infra.bus.ensureStream({ ...s });
  const pub = async <T extends EventType>(type: T, data: EventData<T>) => {
    const event = makeEvent(type, data, { id: newId(), producer: 'test' }) as AnyEventEnvelope;
    await infra.bus.publishDurable(subjectOf(type, keyOf(type, data)), event);
  };
  const live: string[] = [];
  infra.bus.subscribe('notification.*.created', (m) => {
    live.push(m.subject);
  });

  await pub('user.created', { user: ada });
  await pub('conversation.created', created);
  const message = directory.makeMessage(conv, ada.id, { content: 'hello Bob' });
  await pub('message.created', { message });

  const headers = { authorization: `Bearer ${await token(bob.id)}` };
  const res = await eventually(
    () => app.inject({ method: 'GET', url: '/v1/notifications', headers }),
    (r) => r.statusCode === 200 && r.json().items.length === 1,
  );
  const [n] = res.json().items as Notification[];
  expect(n).toMatchObject({ userId: bob.id, kind: 'message', title: 'Ada in Team', body: 'hello Bob' });
  expect(
    await eventually(
      async () => live,
      (l) => l.length === 1,
    ),
  ).toEqual([`notification.${bob.id}.created`]);

  await pub('receipt.read', { conversationId: conv, userId: bob.id, seq: message.seq, at: new Date().toISOString() });
  const count = await eventually(
    async () => (await app.inject({ method: 'GET', url: '/v1/notifications/unread-count', headers })).json().count,
    (c) => c === 0,
  );
  expect(count).toBe(0);
});
