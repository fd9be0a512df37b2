/** Conversations created through the API, as a user would. */
import type { Conversation } from '@parley/contracts';
import { expect } from 'vitest';
import { type Harness, type TestUser, as } from '../helper';

export async function makeGroup(
  h: Harness,
  owner: TestUser,
  members: TestUser[] = [],
  body: Record<string, unknown> = {},
): Promise<Conversation> {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/conversations',
    headers: as(owner),
    payload: { type: 'group', title: 'Team', memberIds: members.map((m) => m.id), ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

export async function makeDirect(h: Harness, a: TestUser, b: TestUser): Promise<Conversation> {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/conversations',
    headers: as(a),
    payload: { type: 'direct', memberIds: [b.id] },
  });
  expect([200, 201], res.body).toContain(res.statusCode);
  return res.json();
}
