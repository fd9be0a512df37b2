/** What the service logs while notifying (at trace level): never message bodies or tokens. */
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

it('never logs message content, notification bodies or access tokens', async () => {
  const ada = t.directory.makeUser('Ada');
  const bob = t.directory.makeUser('Bob');
  const created = t.directory.makeGroup(ada, [bob]);
  await t.publish('conversation.created', created);
  const secret = 'the vault code is 4512-SECRET';
  const message = t.directory.makeMessage(created.conversation.id, ada.id, { content: secret });
  await t.publish('message.created', { message });

  const headers = await t.auth(bob.id);
  const page = await eventually(
    async () => (await t.app.inject({ method: 'GET', url: '/v1/notifications', headers })).json(),
    (p: { items: unknown[] }) => p.items.length === 1,
  );
  expect(JSON.stringify(page)).toContain('4512-SECRET');
  expect(logs.lines().length).toBeGreaterThan(0);
  expect(logs.text()).not.toContain('4512-SECRET');
  expect(logs.text()).not.toContain(headers.authorization.slice('Bearer '.length));
});
