import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClientIpResolver } from './client-ip';

function req(peer: string, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress: peer },
    connection: { remoteAddress: peer },
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  } as unknown as IncomingMessage;
}

describe('client ip', () => {
  it('uses the socket peer and ignores X-Forwarded-For by default', () => {
    expect(createClientIpResolver('false')(req('10.1.1.1', '203.0.113.9'))).toBe('10.1.1.1');
  });
  it('reads X-Forwarded-For only through trusted proxies', () => {
    const resolve = createClientIpResolver('10.1.0.0/16');
    expect(resolve(req('10.1.1.1', '203.0.113.9'))).toBe('203.0.113.9');
    // A client spoofing the header directly is not a trusted proxy.
    expect(resolve(req('198.51.100.7', '203.0.113.9'))).toBe('198.51.100.7');
  });
  it('supports a hop count', () => {
    expect(createClientIpResolver('1')(req('10.1.1.1', '198.51.100.1, 203.0.113.9'))).toBe('203.0.113.9');
  });
});
