/**
 * Demo data through the public API (the same path a user takes): three users,
 * a direct conversation and a group with a few messages. Idempotent: existing
 * demo users log in instead.
 */
import { ParleyApiError, ParleyClient } from '@parley/sdk';

const PASSWORD = 'parley-demo-2026';
const DEMO = [
  { email: 'ada@demo.parley.dev', name: 'Ada Lovelace' },
  { email: 'grace@demo.parley.dev', name: 'Grace Hopper' },
  { email: 'alan@demo.parley.dev', name: 'Alan Turing' },
];

export async function seedDemo(baseUrl: string): Promise<{ password: string; users: typeof DEMO }> {
  const clients: ParleyClient[] = [];
  const ids: string[] = [];
  for (const u of DEMO) {
    const c = new ParleyClient({ baseUrl });
    try {
      const r = await c.auth.register({ ...u, password: PASSWORD, passwordConfirm: PASSWORD });
      ids.push(r.user.id);
    } catch (err) {
      if (!(err instanceof ParleyApiError) || err.code !== 'conflict') throw err;
      const r = await c.auth.login({ email: u.email, password: PASSWORD });
      ids.push(r.user.id);
    }
    clients.push(c);
  }
  const [ada, grace] = clients as [ParleyClient, ParleyClient, ParleyClient];
  const direct = await ada.conversations.create({ type: 'direct', memberIds: [ids[1]!] });
  if (direct.lastSeq === 0) {
    await ada.messages.send(direct.id, { content: 'Hello Grace! Welcome to Parley.' });
    await grace.messages.send(direct.id, { content: 'Hi Ada, glad to be here.' });
  }
  const groups = await ada.conversations.list({ limit: 50 });
  if (!groups.items.some((c) => c.type === 'group' && c.title === 'Analytical Engines')) {
    const group = await ada.conversations.create({
      type: 'group',
      title: 'Analytical Engines',
      memberIds: [ids[1]!, ids[2]!],
      visibility: 'public',
    });
    await ada.messages.send(group.id, { content: 'This room is for talking about engines. @all say hi!' });
  }
  return { password: PASSWORD, users: DEMO };
}
