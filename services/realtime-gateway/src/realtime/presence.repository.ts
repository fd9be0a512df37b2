/**
 * Presence in the key-value store (Redis when configured), shared by every
 * gateway replica. One key per live connection with a TTL refreshed by its
 * heartbeats, so a user is online while any of their connections (on any
 * gateway, any device) is alive, and a gateway that crashes leaves nothing
 * behind once its keys expire. `seen:<user>` keeps the last activity time for
 * `lastSeenAt`.
 */
import type { PresenceEntry } from '@parley/contracts';
import type { KeyValue } from '@parley/service-kit';

const connsKey = (userId: string) => `presence:conns:${userId}`;
const connKey = (userId: string, connId: string) => `presence:conn:${userId}:${connId}`;
const seenKey = (userId: string) => `presence:seen:${userId}`;
const SEEN_TTL_MS = 30 * 24 * 3600 * 1000;
const SET_TTL_MS = 24 * 3600 * 1000;

export class PresenceRepository {
  constructor(
    private readonly kv: KeyValue,
    /** Lifetime of a connection key without a heartbeat (a bit over two intervals). */
    private readonly connTtlMs: number,
  ) {}

  /** Records a live connection; returns whether the user was already online before it. */
  async addConnection(userId: string, connId: string, now: Date): Promise<boolean> {
    const wasOnline = await this.isOnline(userId);
    await this.kv.set(connKey(userId, connId), '1', { ttlMs: this.connTtlMs });
    await this.kv.sadd(connsKey(userId), connId);
    await this.kv.expire(connsKey(userId), SET_TTL_MS);
    await this.kv.set(seenKey(userId), now.toISOString(), { ttlMs: SEEN_TTL_MS });
    return wasOnline;
  }

  /** A heartbeat answered: the connection lives on. */
  async refreshConnection(userId: string, connId: string, now: Date): Promise<void> {
    await this.kv.set(connKey(userId, connId), '1', { ttlMs: this.connTtlMs });
    await this.kv.set(seenKey(userId), now.toISOString(), { ttlMs: SEEN_TTL_MS });
  }

  /** Forgets a connection; returns whether the user is still online elsewhere. */
  async removeConnection(userId: string, connId: string, now: Date): Promise<boolean> {
    await this.kv.del(connKey(userId, connId));
    await this.kv.srem(connsKey(userId), connId);
    await this.kv.set(seenKey(userId), now.toISOString(), { ttlMs: SEEN_TTL_MS });
    return this.isOnline(userId);
  }

  /** Online when any recorded connection key is still alive; dead entries are pruned. */
  async isOnline(userId: string): Promise<boolean> {
    const ids = await this.kv.smembers(connsKey(userId));
    if (ids.length === 0) return false;
    const alive = await this.kv.mget(ids.map((id) => connKey(userId, id)));
    const dead = ids.filter((_id, i) => alive[i] === null);
    if (dead.length > 0) await this.kv.srem(connsKey(userId), ...dead);
    return dead.length < ids.length;
  }

  async lastSeen(userId: string): Promise<string | null> {
    return this.kv.get(seenKey(userId));
  }

  async query(userIds: string[]): Promise<PresenceEntry[]> {
    return Promise.all(
      userIds.map(async (userId) => {
        const online = await this.isOnline(userId);
        const lastSeenAt = await this.lastSeen(userId);
        return { userId, status: online ? 'online' : 'offline', lastSeenAt } as PresenceEntry;
      }),
    );
  }
}
