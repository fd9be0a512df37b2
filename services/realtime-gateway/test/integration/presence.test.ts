/**
 * Presence in real Redis: multi-device counting, and a gateway that dies
 * without closing anything (no offline written) leaves its users offline once
 * their connection keys expire.
 */
import { newId } from '@parley/service-kit';
import { createTestInfra, requireServers, type TestInfra } from '@parley/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PresenceRepository } from '../../src/realtime/presence.repository';
import { eventually } from '../helper';

let infra: TestInfra;

beforeAll(async () => {
  if (!(await requireServers(['postgres', 'nats', 'redis']))) return;
  infra = await createTestInfra({ service: 'gateway-presence' });
});

afterAll(async () => {
  await infra?.close();
});

describe('presence repository', () => {
  it('stays online while any connection lives, then offline with lastSeenAt', async () => {
    const repo = new PresenceRepository(infra.kv, 60_000);
    const user = newId();
    expect(await repo.addConnection(user, 'phone', new Date())).toBe(false);
    expect(await repo.addConnection(user, 'laptop', new Date())).toBe(true);
    expect(await repo.removeConnection(user, 'phone', new Date())).toBe(true);
    expect(await repo.removeConnection(user, 'laptop', new Date('2026-01-01T00:00:00Z'))).toBe(false);
    expect(await repo.query([user])).toEqual([
      { userId: user, status: 'offline', lastSeenAt: '2026-01-01T00:00:00.000Z' },
    ]);
  });

  it('forgets the connections of a crashed gateway when their keys expire', async () => {
    const crashed = new PresenceRepository(infra.kv, 300);
    const user = newId();
    await crashed.addConnection(user, 'held-by-dead-gateway', new Date());
    expect((await crashed.query([user]))[0]!.status).toBe('online');
    const survivor = new PresenceRepository(infra.kv, 60_000);
    const after = await eventually(async () => {
      const [u] = await survivor.query([user]);
      return u!.status === 'offline' ? u : null;
    });
    expect(after?.lastSeenAt).toBeTruthy();
  });
});
