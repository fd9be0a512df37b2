/**
 * The same service on the embedded stand-ins of the standalone mode (PGlite,
 * in-memory bus and key-value): migrations, consumers and search work there
 * too. Needs no server.
 */
import {
  type AnyEventEnvelope,
  type EventData,
  type EventType,
  keyOf,
  makeEvent,
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
import { HistoryConfig } from '../../src/config';
import { Directory } from '../factories/directory';
import { eventually } from '../helper';

let infra: TestInfra;
let app: FastifyInstance;
let token: (userId: string) => Promise<string>;

beforeAll(async () => {
  infra = await createTestInfra({ real: false, service: 'history' });
  const config = loadConfig(HistoryConfig, {});
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

it('indexes, edits and searches on PGlite and the in-memory bus', async () => {
  const directory = new Directory();
  const ada = directory.makeUser('Ada');
  const bob = directory.makeUser('Bob');
  const created = directory.makeGroup(ada, [bob]);
  const conv = created.conversation.id;
  for (const s of [STREAMS.conversation, STREAMS.message]) await infra.bus.ensureStream({ ...s });
  const pub = async <T extends EventType>(type: T, data: EventData<T>) => {
    const event = makeEvent(type, data, { id: newId(), producer: 'test' }) as AnyEventEnvelope;
    await infra.bus.publishDurable(subjectOf(type, keyOf(type, data)), event);
  };

  await pub('conversation.created', created);
  const m = directory.makeMessage(conv, ada.id, { content: 'we are running the tests' });
  await pub('message.created', { message: m });
  await pub('message.updated', directory.edit(m, 'we run the tests twice', new Date()));

  const headers = { authorization: `Bearer ${await token(bob.id)}` };
  const res = await eventually(
    () => app.inject({ method: 'GET', url: '/v1/search/messages?q=running', headers }),
    (r) => r.statusCode === 200 && r.json().items[0]?.content === 'we run the tests twice',
  );
  expect(res.json().items).toHaveLength(1);
  expect(res.json().items[0].snippet).toContain('<mark>run</mark>');
  const history = await app.inject({ method: 'GET', url: `/v1/messages/${m.id}/history`, headers });
  expect(history.json().items.map((r: { content: string }) => r.content)).toEqual(['we are running the tests']);
});
