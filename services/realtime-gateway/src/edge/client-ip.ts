/**
 * The client address the per-IP limit is keyed by, honouring TRUST_PROXY
 * exactly (PITFALLS: trusting every X-Forwarded-For lets clients pick their
 * own key). The kit's createServiceApp does not take Fastify's `trustProxy`
 * option, so the gateway resolves the address itself with the same library
 * Fastify uses (@fastify/proxy-addr).
 */
import proxyAddr from '@fastify/proxy-addr';
import type { IncomingMessage } from 'node:http';
import { trustProxyOf } from '../config';

export type ClientIpResolver = (req: IncomingMessage) => { ip: string; chain: string[] };

export function clientIpResolver(trustProxy: string): ClientIpResolver {
  const setting = trustProxyOf(trustProxy);
  let trust: (addr: string, i: number) => boolean;
  if (setting === false) trust = () => false;
  else if (setting === true) trust = () => true;
  else if (typeof setting === 'number') trust = (_addr, i) => i < setting;
  else trust = proxyAddr.compile(setting);
  return (req) => {
    const chain = proxyAddr.all(req, trust);
    // proxyAddr.all: [socket address, ...trusted forwarders..., client]; the last entry is the client.
    return { ip: chain[chain.length - 1] ?? req.socket.remoteAddress ?? 'unknown', chain };
  };
}
