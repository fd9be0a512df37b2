/**
 * CPU of the notification service for messages to a 1,000-member group.
 *
 *   pnpm --filter @parley/notification exec tsx scripts/measure-fanout-cpu.ts [--messages 10]
 *
 * Builds the service on an isolated real infra (the integration tests'
 * `setup()`: fresh database, own bus and key prefixes, removed at the end),
 * creates a group of 1,000, sends one warm-up message, then publishes
 * `message.created` events one at a time and waits until the 999
 * notifications of each exist and their 999 `notification.created` outbox
 * rows are published. Prints, per message, the wall time and the CPU ms of
 * this process (the service: consumer, outbox relay; the waiting loop polls
 * one count query every 20 ms) and of this database's Postgres backends.
 */
import { readFileSync } from 'node:fs';
import { LIMITS } from '@parley/contracts';
import { sql } from 'drizzle-orm';
import { setup } from '../test/helper';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MESSAGES = arg('messages', 10);

function procCpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return ticks * 10;
}
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const t = await setup({ LOG_LEVEL: 'warn' });
try {
  const ada = t.directory.makeUser('Ada');
  const others = Array.from({ length: LIMITS.maxMembersMax - 1 }, (_, i) => t.directory.makeUser(`Member ${i}`));
  const created = t.directory.makeGroup(ada, others, { title: 'Everyone' });
  await t.publish('conversation.created', created);

  const published = async (messageId: string) => {
    for (;;) {
      const [r] = await t.infra.db.rows<{ n: number; p: number }>(
        sql`select (select count(*)::int from notification.notifications where message_id = ${messageId}) as n,
                   (select count(*)::int from notification.outbox where published_at is null) as p`,
      );
      if (r!.n === others.length && r!.p === 0) return;
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  const send = async () => {
    const message = t.directory.makeMessage(created.conversation.id, ada.id, { content: 'all hands at 10' });
    await t.publish('message.created', { message });
    await published(message.id);
  };
  await send(); // warm-up: read model filled, JIT, prepared statements
  const pids = (
    await t.infra.db.rows<{ pid: number }>(sql`select pid from pg_stat_activity where datname = current_database()`)
  ).map((r) => Number(r.pid));

  const rows: { wall: number; self: number; pg: number }[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const s0 = selfCpuMs();
    const p0 = procCpuMs(pids);
    const w0 = performance.now();
    await send();
    rows.push({ wall: performance.now() - w0, self: selfCpuMs() - s0, pg: procCpuMs(pids) - p0 });
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `messages: ${MESSAGES} to a ${LIMITS.maxMembersMax}-member group; loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
  );
  console.log(
    `service CPU ms per message: median ${med(rows.map((r) => r.self)).toFixed(0)}, mean ${avg(rows.map((r) => r.self)).toFixed(0)}`,
  );
  console.log(`postgres backends CPU ms per message: mean ${avg(rows.map((r) => r.pg)).toFixed(0)}`);
  console.log(`wall ms until all published: median ${med(rows.map((r) => r.wall)).toFixed(0)}`);
} finally {
  await t.close();
}
