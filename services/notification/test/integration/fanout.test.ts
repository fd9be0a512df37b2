/** A message in a group at the largest size API.md allows (1,000 members). */
import { LIMITS } from '@parley/contracts';
import { requireServers } from '@parley/service-kit/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, setup, type TestContext } from '../helper';

await requireServers(['postgres', 'nats', 'redis']);

let t: TestContext;
beforeAll(async () => {
  t = await setup();
});
afterAll(async () => {
  await t?.close();
});

it('notifies and announces every other member of a 1,000-member group exactly once', async () => {
  const ada = t.directory.makeUser('Ada');
  const others = Array.from({ length: LIMITS.maxMembersMax - 1 }, (_, i) => t.directory.makeUser(`Member ${i}`));
  const created = t.directory.makeGroup(ada, others, { title: 'Everyone' });
  await t.publish('conversation.created', created);
  const message = t.directory.makeMessage(created.conversation.id, ada.id, { content: 'all hands at 10' });
  await t.publish('message.created', { message });

  const count = (query: ReturnType<typeof sql>) =>
    eventually(
      async () => (await t.infra.db.rows<{ n: number }>(query))[0]!.n,
      (n) => n === others.length,
      { timeoutMs: 30_000 },
    );
  expect(
    await count(
      sql`select count(distinct user_id)::int as n from notification.notifications where message_id = ${message.id}`,
    ),
  ).toBe(others.length);
  expect(
    await count(
      sql`select count(*)::int as n from notification.outbox where type = 'notification.created' and published_at is not null`,
    ),
  ).toBe(others.length);
  const total = await t.infra.db.rows<{ n: number }>(sql`select count(*)::int as n from notification.notifications`);
  expect(total[0]!.n).toBe(others.length);
}, 60_000);
