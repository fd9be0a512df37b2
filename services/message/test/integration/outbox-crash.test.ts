/**
 * The outbox across a crash: a replica whose publishes die (some before
 * reaching JetStream, some after JetStream stored them but before the row was
 * marked) commits messages and stops; a new replica starts and publishes what
 * was left. Every message's event is then in the stream exactly once.
 */
import type { Message } from '@parley/contracts';
import type { Bus } from '@parley/service-kit';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, eventually, type Harness, type TestUser } from '../helper';

let h: Harness;
let ada: TestUser;
let bob: TestUser;
let crashed = false;
let publishCalls = 0;

/** Publishes fail once `crashed` is set: every third after JetStream stored the event, the rest before. */
function crashingBus(bus: Bus): Bus {
  return Object.assign(Object.create(bus) as Bus, {
    async publishDurable(...args: Parameters<Bus['publishDurable']>) {
      if (!crashed) return bus.publishDurable(...args);
      publishCalls++;
      if (publishCalls % 3 === 0) {
        await bus.publishDurable(...args);
        throw new Error('process died after the publish, before marking the row');
      }
      throw new Error('process died before the publish');
    },
  });
}

beforeAll(async () => {
  h = await build({}, { wrapBus: crashingBus });
  ada = await h.makeUser('Ada');
  bob = await h.makeUser('Bob');
});
afterAll(async () => {
  await h?.close();
});

describe('outbox crash recovery', () => {
  it('publishes after a restart every event committed before the crash, none twice', async () => {
    const c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [bob.id], publish: false })).id;
    const before = await h.send(ada, c, 'before the crash');
    await eventually(() =>
      expect(h.events.some((e) => e.type === 'message.created' && e.data.message.id === before.id)).toBe(true),
    );

    crashed = true;
    const committed: Message[] = [];
    for (let i = 0; i < 12; i++) committed.push(await h.send(i % 2 ? ada : bob, c, `during ${i}`));
    await eventually(() => expect(publishCalls).toBeGreaterThanOrEqual(6));
    // The crashed replica goes away with its rows unmarked.
    await h.closeApp(h.app);
    const [left] = await h.infra.db.rows<{ n: string }>(
      sql`SELECT count(*) AS n FROM message.outbox WHERE published_at IS NULL`,
    );
    expect(Number(left!.n)).toBeGreaterThan(0);

    // A new replica starts: its relay publishes what was left.
    await h.replica();
    const ids = [before, ...committed].map((m) => m.id);
    const created = () => h.events.filter((e) => e.type === 'message.created' && e.data.message.conversationId === c);
    await eventually(() =>
      expect(new Set(created().map((e) => (e.data as { message: Message }).message.id))).toEqual(new Set(ids)),
    );
    await new Promise((r) => setTimeout(r, 500)); // anything published twice would have arrived by now
    expect(
      created()
        .map((e) => (e.data as { message: Message }).message.id)
        .sort(),
    ).toEqual([...ids].sort());
    expect(new Set(created().map((e) => e.id)).size).toBe(ids.length);
  });
});
