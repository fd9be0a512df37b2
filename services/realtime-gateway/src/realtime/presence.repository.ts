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

  /**
   * Records a live connection; returns whether the user was already online
   * before it. The writes and the read of the user's other connections are
   * issued together (one round trip, pipelined by the store); the other
   * connections' keys are read only when there are some, and not at all when
   * the caller already knows the user is online (another live connection on
   * this gateway).
   */
  async addConnection(
    userId: string,
    connId: string,
    now: Date,
    opts: { knownOnline?: boolean } = {},
  ): Promise<boolean> {
    const writes = [
      this.kv.set(connKey(userId, connId), '1', { ttlMs: this.connTtlMs }),
      this.kv.sadd(connsKey(userId), connId),
      this.kv.expire(connsKey(userId), SET_TTL_MS),
      this.kv.set(seenKey(userId), now.toISOString(), { ttlMs: SEEN_TTL_MS }),
    ];
    if (opts.knownOnline) {
      await Promise.all(writes);
      return true;
    }
    const [ids] = await Promise.all([this.kv.smembers(connsKey(userId)), ...writes]);
    return this.anyAlive(
      userId,
      (ids as string[]).filter((id) => id !== connId),
    );
  }

  /** A heartbeat answered: the connection lives on. */
  async refreshConnection(userId: string, connId: string, now: Date): Promise<void> {
    await Promise.all([
      this.kv.set(connKey(userId, connId), '1', { ttlMs: this.connTtlMs }),
      this.kv.set(seenKey(userId), now.toISOString(), { ttlMs: SEEN_TTL_MS }),
    ]);
  }

  /** Forgets a connection; returns whether the user is still online elsewhere. */
  async removeConnection(
    userId: string,
    connId: string,
    now: Date,
    opts: { knownOnline?: boolean } = {},
  ): Promise<boolean> {
    return this.removeConnections(userId, [connId], now, opts);
  }

  /**
   * Forgets some connections of one user (all written together); returns
   * whether the user is still online elsewhere. With `knownOnline` (another
   * live connection on this gateway) the store is not asked.
   */
  async removeConnections(
    userId: string,
    connIds: string[],
    now: Date,
    opts: { knownOnline?: boolean } = {},
  ): Promise<boolean> {
    if (connIds.length === 0) return opts.knownOnline ? true : this.isOnline(userId);
    const writes = [
      this.kv.del(...connIds.map((id) => connKey(userId, id))),
      this.kv.srem(connsKey(userId), ...connIds),
      this.kv.set(seenKey(userId), now.toISOString(), { ttlMs: SEEN_TTL_MS }),
    ];
    if (opts.knownOnline) {
      await Promise.all(writes);
      return true;
    }
    // Read after the removal (same connection, in order): the ids left are the others.
    const [, , , ids] = await Promise.all([...writes, this.kv.smembers(connsKey(userId))]);
    return this.anyAlive(userId, ids as string[]);
  }

  /** Online when any recorded connection key is still alive; dead entries are pruned. */
  async isOnline(userId: string): Promise<boolean> {
    return this.anyAlive(userId, await this.kv.smembers(connsKey(userId)));
  }

  /** Whether any of these recorded connections of the user is alive; dead entries are pruned. */
  private async anyAlive(userId: string, ids: string[]): Promise<boolean> {
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
