/** What the service logs while indexing and answering (at trace level): never message text or tokens. */
import { captureLogs, requireServers } from '@parley/service-kit/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, setup, type TestContext } from '../helper';

await requireServers(['postgres', 'nats', 'redis']);

const logs = captureLogs();
let t: TestContext;
beforeAll(async () => {
  t = await setup({ LOG_LEVEL: 'trace' }, { logger: logs.logger });
});
afterAll(async () => {
  await t?.close();
});

it('never logs message content, replaced revisions or access tokens', async () => {
  const ada = t.directory.makeUser('Ada');
  const bob = t.directory.makeUser('Bob');
  const created = t.directory.makeGroup(ada, [bob]);
  await t.publish('conversation.created', created);
  const message = t.directory.makeMessage(created.conversation.id, ada.id, { content: 'vault code 4512-FIRST' });
  await t.publish('message.created', { message });
  await t.publish('message.updated', t.directory.edit(message, 'vault code 9981-SECOND', new Date()));

  const headers = await t.auth(bob.id);
  const res = await eventually(
    () => t.app.inject({ method: 'GET', url: `/v1/messages/${message.id}/history`, headers }),
    (r) => r.statusCode === 200 && r.json().items.length === 1,
  );
  expect(res.json().items[0].content).toBe('vault code 4512-FIRST');
  expect(logs.lines().length).toBeGreaterThan(0);
  expect(logs.text()).not.toContain('4512-FIRST');
  expect(logs.text()).not.toContain('9981-SECOND');
  expect(logs.text()).not.toContain(headers.authorization.slice('Bearer '.length));
});
