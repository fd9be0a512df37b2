/**
 * The local read model of users, fed by auth's `user.*` events and filled on
 * a miss by `RPC.authUsers`, so a user registered a moment ago can be added
 * at once while known users cost no call. A deleted user (tombstone) is
 * unknown for every purpose, even if auth were to answer late.
 */
import { type EventData, RPC, UsersReply } from '@parley/contracts';
import { type Bus, type Db, type DbOrTx, currentHeaders, unavailable } from '@parley/service-kit';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import type { UserRecord } from '../conversations/conversation.model';
import type { ConversationRepository } from '../conversations/conversation.repository';

const usersReply = TypeCompiler.Compile(UsersReply);

export interface UserDirectoryDeps {
  db: Db;
  repo: ConversationRepository;
  bus: Bus;
  rpcTimeoutMs: number;
  logger: Pick<Logger, 'warn' | 'info' | 'debug'>;
}

export function createUserDirectory(deps: UserDirectoryDeps) {
  const { db, repo, bus } = deps;

  const toRecord = (u: EventData<'user.created'>['user']): UserRecord => ({
    id: u.id,
    name: u.name,
    avatarUrl: u.avatarUrl,
    statusText: u.statusText,
    createdAt: new Date(u.createdAt),
  });

  return {
    /**
     * Makes sure every live user among `ids` is in the local model (asking
     * auth for the ones never seen) and returns the ids that are unknown or
     * deleted. Throws 503 when auth cannot be asked.
     */
    async resolve(ids: string[]): Promise<{ unknown: string[] }> {
      const wanted = [...new Set(ids.map((id) => id.toLowerCase()))];
      if (wanted.length === 0) return { unknown: [] };
      const { live, deleted } = await repo.findUsers(db, wanted);
      const seen = new Set([...live.map((u) => u.id), ...deleted]);
      const missing = wanted.filter((id) => !seen.has(id));
      const found = new Set(live.map((u) => u.id));
      if (missing.length > 0) {
        let reply: unknown;
        try {
          reply = await bus.request(
            RPC.authUsers,
            { ids: missing },
            { timeoutMs: deps.rpcTimeoutMs, headers: currentHeaders() },
          );
        } catch (err) {
          deps.logger.warn({ err }, 'auth users lookup failed');
          throw unavailable('user directory is unavailable, retry');
        }
        if (!usersReply.Check(reply)) {
          deps.logger.warn('auth users lookup answered an unexpected shape');
          throw unavailable('user directory is unavailable, retry');
        }
        const fetched = reply.users.filter((u) => missing.includes(u.id.toLowerCase()));
        await repo.upsertUsers(db, fetched.map(toRecord));
        // A deletion may have landed meanwhile; the tombstone wins.
        const after = await repo.findUsers(
          db,
          fetched.map((u) => u.id),
        );
        for (const u of after.live) found.add(u.id);
      }
      return { unknown: wanted.filter((id) => !found.has(id)) };
    },

    async applyUserUpserted(tx: DbOrTx, user: EventData<'user.created'>['user']) {
      await repo.upsertUsers(tx, [toRecord(user)]);
    },
  };
}

export type UserDirectory = ReturnType<typeof createUserDirectory>;
