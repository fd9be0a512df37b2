/** RPC.authUsers: public profiles by id for the other services (unknown and deleted ids left out). */
import { RPC, UsersRequest } from '@parley/contracts';
import type { Bus, Subscription } from '@parley/service-kit';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { UserService } from './user.service';

const checkRequest = TypeCompiler.Compile(UsersRequest);

export function serveUsers(bus: Bus, users: UserService): Subscription {
  return bus.serve(
    RPC.authUsers,
    async (req: unknown) => {
      if (!checkRequest.Check(req)) {
        const first = [...checkRequest.Errors(req)][0];
        throw new Error(`invalid ${RPC.authUsers} request: ${first?.path || '/'} ${first?.message ?? ''}`.trim());
      }
      return { users: await users.publicUsers(req.ids) };
    },
    { queue: 'auth' },
  );
}
