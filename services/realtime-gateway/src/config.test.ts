import { loadConfig } from '@parley/service-kit';
import { describe, expect, it } from 'vitest';
import { GatewayConfig, isOriginAllowed, originPolicyOf, serviceUrls, trustProxyOf } from './config';

describe('gateway config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig(GatewayConfig, {});
    expect(c.PORT).toBe(3000);
    expect(c.RATE_LIMIT_ANON_PER_MIN).toBe(20);
    expect(c.RATE_LIMIT_USER_PER_MIN).toBe(600);
    expect(serviceUrls(c).message).toBe('http://127.0.0.1:3003');
    // A burst of connections issues several presence commands each: pipelined by default here only.
    expect(c.REDIS_AUTO_PIPELINING).toBe(true);
    expect(loadConfig(GatewayConfig, { REDIS_AUTO_PIPELINING: 'false' }).REDIS_AUTO_PIPELINING).toBe(false);
  });

  it('names the failing variable', () => {
    expect(() => loadConfig(GatewayConfig, { WS_HEARTBEAT_MS: 'soon' })).toThrow(/WS_HEARTBEAT_MS/);
    expect(() => loadConfig(GatewayConfig, { MESSAGE_URL: 'not a url' })).toThrow(/MESSAGE_URL/);
  });

  it('reads TRUST_PROXY as Fastify understands it', () => {
    expect(trustProxyOf('false')).toBe(false);
    expect(trustProxyOf('true')).toBe(true);
    expect(trustProxyOf('2')).toBe(2);
    expect(trustProxyOf('10.0.0.0/8, 127.0.0.1')).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });

  it('allows only listed origins, any with *, and the own origin by default', () => {
    const listed = originPolicyOf('https://app.example, https://b.example/');
    expect(isOriginAllowed(listed, 'https://app.example', 'gw:3000')).toBe(true);
    expect(isOriginAllowed(listed, 'https://b.example', 'gw:3000')).toBe(true);
    expect(isOriginAllowed(listed, 'https://evil.example', 'gw:3000')).toBe(false);
    expect(isOriginAllowed(originPolicyOf('*'), 'https://evil.example', 'gw')).toBe(true);
    const own = originPolicyOf('');
    expect(isOriginAllowed(own, 'http://gw:3000', 'gw:3000')).toBe(true);
    expect(isOriginAllowed(own, 'http://other:3000', 'gw:3000')).toBe(false);
  });
});
