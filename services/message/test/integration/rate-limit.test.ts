import type { Message } from '@parley/contracts';
import { newId, type ServiceApp } from '@parley/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type Harness, type TestUser } from '../helper';

let h: Harness;
let replica: ServiceApp;
let ada: TestUser;
let bob: TestUser;
let c: string;

beforeAll(async () => {
  // One token a minute: refill cannot blur the burst here (the refill itself is unit-tested with a clock).
  h = await build({ RATE_LIMIT_SEND_PER_MIN: 1, RATE_LIMIT_SEND_BURST: 5 });
  replica = await h.replica();
  ada = await h.makeUser('Ada');
  bob = await h.makeUser('Bob');
  c = (await h.world.createConversation({ createdBy: ada.id, memberIds: [bob.id], publish: false })).id;
});
afterAll(async () => {
  await h?.close();
});

const post = (app: ServiceApp, user: TestUser, clientMessageId = newId()) =>
  app.inject({
    method: 'POST',
    url: `/v1/conversations/${c}/messages`,
    headers: user.auth,
    payload: { clientMessageId, content: 'hi' },
  });

describe('send rate limit (token bucket shared by replicas)', () => {
  it('allows the burst across replicas, then answers 429 rate_limited with Retry-After', async () => {
    const first = await post(h.app, ada);
    expect(first.statusCode).toBe(201);
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await post(i % 2 ? h.app : replica, ada));
    expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201, 201]);

    const limited = await post(replica, ada);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    // The RateLimit-* headers describe the send bucket (the gateway passes them through).
    expect(limited.headers['ratelimit-limit']).toBe('5');
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(limited.headers['ratelimit-reset']).toBe(limited.headers['retry-after']);

    // A retry of a stored send is still answered with the stored message.
    const stored = first.json() as Message;
    const retry = await post(h.app, ada, stored.clientMessageId!);
    expect(retry.statusCode).toBe(200);
    expect((retry.json() as Message).id).toBe(stored.id);

    // Other users have their own bucket.
    expect((await post(h.app, bob)).statusCode).toBe(201);
  });

  it('spends no budget on refused sends, and refuses a conversation before the rate limit', async () => {
    const carol = await h.makeUser('Carol');
    const bobs = (await h.world.createConversation({ createdBy: bob.id, memberIds: [], publish: false })).id;
    const hers = (await h.world.createConversation({ createdBy: carol.id, memberIds: [], publish: false })).id;
    const sendTo = (conversationId: string) =>
      h.app.inject({
        method: 'POST',
        url: `/v1/conversations/${conversationId}/messages`,
        headers: carol.auth,
        payload: { clientMessageId: newId(), content: 'hi' },
      });

    for (let i = 0; i < 8; i++) expect((await sendTo(bobs)).statusCode).toBe(404);
    // The whole burst is still there.
    const burst = [];
    for (let i = 0; i < 5; i++) burst.push((await sendTo(hers)).statusCode);
    expect(burst).toEqual([201, 201, 201, 201, 201]);
    expect((await sendTo(hers)).statusCode).toBe(429);
    // With an empty bucket, a conversation she is not in is still a 404.
    expect((await sendTo(bobs)).statusCode).toBe(404);
  });
});
