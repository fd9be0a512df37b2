/**
 * The client address that login throttling counts per IP. The auth service
 * sits behind the gateway, so the socket peer is the gateway for everyone;
 * the real client is read from X-Forwarded-For, trusting only the proxies
 * TRUST_PROXY names (PITFALLS: trusting more lets clients spoof their key).
 * Same values as Fastify's `trustProxy`: `false` (default: the socket peer),
 * `true` (trust every hop), a hop count, or comma-separated addresses/CIDRs
 * (and proxy-addr's names `loopback`, `linklocal`, `uniquelocal`).
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

export type ClientIpResolver = (req: IncomingMessage) => string;

export function createClientIpResolver(trustProxy: string): ClientIpResolver {
  const value = trustProxy.trim();
  const peer = (req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown';
  if (value === '' || value === 'false') return peer;
  let trust: (addr: string, i: number) => boolean;
  if (value === 'true') trust = () => true;
  else if (/^\d+$/.test(value)) {
    const hops = Number(value);
    trust = (_addr, i) => i < hops;
  } else {
    trust = proxyaddr.compile(
      value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }
  return (req) => {
    try {
      return proxyaddr(req, trust);
    } catch {
      return peer(req);
    }
  };
}
