/** RPC.authJwks: the public signing keys, for every service's token verification. */
import { RPC } from '@parley/contracts';
import type { Bus, Subscription } from '@parley/service-kit';
import type { SigningKeyRing } from './signing-key.service';

export function serveJwks(bus: Bus, keys: SigningKeyRing): Subscription {
  return bus.serve(RPC.authJwks, async () => keys.jwks(), { queue: 'auth' });
}
