/**
 * Calls the services' own HTTP routes on behalf of a connected user, with
 * that user's access token, so a WebSocket `message.send` / `read` /
 * `delivered` / `resume` goes through exactly the code path (rules,
 * idempotency, errors) of the REST call. Keep-alive pooled (undici Agent).
 */
import type { ErrorDetail } from '@parley/contracts';
import { Agent, request } from 'undici';
import type { GatewayConfig, ServiceName } from '../config';
import { serviceUrls } from '../config';

export interface UpstreamError {
  status: number;
  code: string;
  message: string;
  details?: ErrorDetail[];
}

export type UpstreamResult<T> = { ok: true; status: number; body: T } | { ok: false; error: UpstreamError };

export interface UpstreamCall {
  service: ServiceName;
  method: 'GET' | 'POST';
  path: string;
  token: string;
  requestId: string;
  body?: unknown;
}

export class UpstreamClient {
  private readonly agent: Agent;
  private readonly urls: Record<ServiceName, string>;

  constructor(private readonly config: GatewayConfig) {
    this.urls = serviceUrls(config);
    this.agent = new Agent({
      connections: 128,
      keepAliveTimeout: 30_000,
      connect: { timeout: config.UPSTREAM_CONNECT_TIMEOUT_MS },
      headersTimeout: config.UPSTREAM_TIMEOUT_MS,
      bodyTimeout: config.UPSTREAM_TIMEOUT_MS,
    });
  }

  async call<T>(c: UpstreamCall): Promise<UpstreamResult<T>> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${c.token}`,
      'x-request-id': c.requestId,
      accept: 'application/json',
    };
    let payload: string | undefined;
    if (c.body !== undefined) {
      payload = JSON.stringify(c.body);
      headers['content-type'] = 'application/json';
    }
    try {
      const res = await request(`${this.urls[c.service]}${c.path}`, {
        method: c.method,
        headers,
        body: payload,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.config.UPSTREAM_TIMEOUT_MS),
      });
      const text = await res.body.text();
      const json = text ? safeJson(text) : null;
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode, body: json as T };
      const e = (json as { error?: Partial<UpstreamError> } | null)?.error;
      return {
        ok: false,
        error: {
          status: res.statusCode,
          code: typeof e?.code === 'string' ? e.code : res.statusCode >= 500 ? 'unavailable' : 'bad_request',
          message: typeof e?.message === 'string' ? e.message : `upstream answered ${res.statusCode}`,
          ...(Array.isArray(e?.details) ? { details: e.details } : {}),
        },
      };
    } catch {
      return {
        ok: false,
        error: { status: 503, code: 'unavailable', message: `${c.service} service is unavailable` },
      };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
