/**
 * User display names for mentions and system messages, from the local read
 * model fed by auth's user.* events; ids the model does not know yet are
 * asked of the auth service (RPC.authUsers) and stored. Names are cosmetic
 * here: when the auth service cannot answer, the caller gets what is known.
 */
import { RPC, type UsersReply } from '@parley/contracts';
import type { Static } from '@sinclair/typebox';
import type { Bus, DatabaseHandle } from '@parley/service-kit';
import type { Logger } from 'pino';
import type { MembershipRepository } from '../membership/membership.repository';

export const DELETED_USER_NAME = 'Deleted user';

export interface UserNamesDeps {
  db: DatabaseHandle;
  bus: Bus;
  repo: MembershipRepository;
  rpcTimeoutMs: number;
  logger: Logger;
}

export function createUserNames(deps: UserNamesDeps) {
  const { db, bus, repo } = deps;
  const log = deps.logger.child({ component: 'user-names' });

  return {
    /**
     * Names of the given users: a name, `null` for a deleted user, absent
     * when neither the model nor the auth service knows the id.
     */
    async lookup(ids: string[]): Promise<Map<string, string | null>> {
      const unique = [...new Set(ids)];
      const known = await repo.namesOf(db.db, unique);
      const missing = unique.filter((id) => !known.has(id));
      if (missing.length === 0) return known;
      try {
        const reply = await bus.request<Static<typeof UsersReply>>(
          RPC.authUsers,
          { ids: missing.slice(0, 1000) },
          { timeoutMs: deps.rpcTimeoutMs },
        );
        for (const u of reply?.users ?? []) {
          if (!missing.includes(u.id)) continue;
          await repo.upsertUserName(db.db, u.id, u.name);
          known.set(u.id, u.name);
        }
      } catch (err) {
        log.warn({ err, count: missing.length }, 'user names unavailable from the auth service');
      }
      return known;
    },

    async storeName(tx: Parameters<MembershipRepository['upsertUserName']>[0], id: string, name: string) {
      await repo.upsertUserName(tx, id, name);
    },
  };
}

export type UserNames = ReturnType<typeof createUserNames>;
