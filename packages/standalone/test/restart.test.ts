/**
 * Data survives a restart, in both modes (issue 9): what a user wrote before
 * `pnpm start` stopped is there after it starts again on the same DATA_DIR
 * (embedded) or the same servers (connected), and their account still works.
 */
import { ParleyClient } from '@parley/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningParley, startParley } from '../src/standalone';
import { PASSWORD, registerUser } from './support/clients';
import { type Mode, startTestParley, type TestParley } from './support/parley';

describe.each<Mode>(['embedded', 'connected'])('%s mode across a restart', (mode) => {
  let t: TestParley | null = null;
  let second: RunningParley | null = null;

  // biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructured context before the suite argument
  beforeAll(async ({}, suite) => {
    t = await startTestParley(mode, {}, suite);
  });

  afterAll(async () => {
    await second?.close();
    await t?.stop();
  });

  it('keeps accounts, conversations and messages', async () => {
    if (!t) return;
    const ada = await registerUser(t.parley.url, 'Ada Lovelace');
    const grace = await registerUser(t.parley.url, 'Grace Hopper');
    const room = await ada.client.conversations.create({ type: 'direct', memberIds: [grace.user.id] });
    const sent = await ada.client.messages.send(room.id, { content: 'written before the restart' });

    // Stop everything, then start again with the same environment (same port 0: a new port).
    await t.parley.close();
    second = await startParley({ env: { ...process.env, ...t.env }, buildWeb: false });

    const again = new ParleyClient({ baseUrl: second.url });
    await again.auth.login({ email: ada.email, password: PASSWORD });
    const page = await again.messages.list(room.id, { limit: 10 });
    expect(page.items.map((m) => m.content)).toContain('written before the restart');
    expect(page.items.find((m) => m.id === sent.id)?.seq).toBe(sent.seq);
    const list = await again.conversations.list();
    expect(list.items.map((c) => c.id)).toContain(room.id);
    // The next message continues the sequence: counters survived too.
    const next = await again.messages.send(room.id, { content: 'written after the restart' });
    expect(next.seq).toBe(Math.max(...page.items.map((m) => m.seq)) + 1);
  });
});
