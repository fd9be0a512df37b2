/**
 * The gateway's environment, validated once at boot (STYLE.md habit 3).
 * Service addresses are where the gateway proxies `/v1/*`; the limits are the
 * public ones of API.md; the WS_* knobs shape the realtime protocol.
 */
import { baseServiceConfig } from '@parley/service-kit';
import { type Static, Type } from '@sinclair/typebox';

const Url = (def: string) => Type.String({ format: 'uri', default: def });
const PerMin = (def: number) => Type.Integer({ minimum: 1, maximum: 1_000_000, default: def });

export const GatewayOwnConfig = Type.Object({
  AUTH_URL: Url('http://127.0.0.1:3001'),
  CONVERSATION_URL: Url('http://127.0.0.1:3002'),
  MESSAGE_URL: Url('http://127.0.0.1:3003'),
  NOTIFICATION_URL: Url('http://127.0.0.1:3004'),
  HISTORY_URL: Url('http://127.0.0.1:3005'),
  /** Per-request upstream budget; a dead upstream answers 503 well before it. */
  UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
  UPSTREAM_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 30_000, default: 2_000 }),
  RATE_LIMIT_ANON_PER_MIN: PerMin(20),
  RATE_LIMIT_USER_PER_MIN: PerMin(600),
  /** Enforced by the auth service; listed here because operators set it on the gateway too. */
  RATE_LIMIT_LOGIN_PER_MIN: PerMin(10),
  /** Enforced by the message service (REST and WebSocket sends both reach it). */
  RATE_LIMIT_SEND_PER_MIN: PerMin(60),
  RATE_LIMIT_SEND_BURST: PerMin(20),
  /** Comma-separated origins; `*` allows any; empty: only the gateway's own origin (Host header). */
  WS_ALLOWED_ORIGINS: Type.String({ default: '' }),
  CORS_ORIGINS: Type.String({ default: '' }),
  /** `false`, `true`, a hop count, or comma-separated proxy addresses/CIDRs (Fastify trustProxy). */
  TRUST_PROXY: Type.String({ default: 'false' }),
  WS_MAX_BUFFERED_BYTES: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
  WS_HEARTBEAT_MS: Type.Integer({ minimum: 100, maximum: 300_000, default: 25_000 }),
  WS_FRAME_RATE_PER_SEC: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),
  /**
   * Admission control of WebSocket `message.send`: sends of one connection
   * waiting for the message service at once; one more is refused at once
   * (`error rate_limited` with `retryAfterMs`) instead of queueing.
   */
  WS_SENDS_IN_FLIGHT_PER_CONNECTION: Type.Integer({ minimum: 1, maximum: 10_000, default: 8 }),
  /** The same bound for the whole gateway process (`error unavailable` with `retryAfterMs` past it). */
  WS_SENDS_IN_FLIGHT_MAX: Type.Integer({ minimum: 1, maximum: 100_000, default: 128 }),
  /** When set, `/metrics` requires `Authorization: Bearer <token>`; unset, it answers loopback callers only. */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  /** Directory of the built web client served at `/` (packages/web/dist); unset: no web client. */
  WEB_ROOT: Type.Optional(Type.String({ minLength: 1 })),
});

export const GatewayConfig = Type.Composite([
  baseServiceConfig({ port: 3000, redisAutoPipelining: true }),
  GatewayOwnConfig,
]);
export type GatewayConfig = Static<typeof GatewayConfig>;

/** The upstream services a `/v1` route can belong to. */
export type ServiceName = 'auth' | 'conversation' | 'message' | 'notification' | 'history';

export function serviceUrls(config: GatewayConfig): Record<ServiceName, string> {
  const strip = (u: string) => u.replace(/\/+$/, '');
  return {
    auth: strip(config.AUTH_URL),
    conversation: strip(config.CONVERSATION_URL),
    message: strip(config.MESSAGE_URL),
    notification: strip(config.NOTIFICATION_URL),
    history: strip(config.HISTORY_URL),
  };
}

/** Fastify's `trustProxy` from TRUST_PROXY. */
export function trustProxyOf(value: string): boolean | number | string[] {
  const v = value.trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** An origin allow-list: `*` anything; empty list: same origin as the request's Host only. */
export interface OriginPolicy {
  any: boolean;
  origins: Set<string>;
}

export function originPolicyOf(value: string): OriginPolicy {
  const items = value
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, '').toLowerCase())
    .filter(Boolean);
  return { any: items.includes('*'), origins: new Set(items.filter((i) => i !== '*')) };
}

export function isOriginAllowed(policy: OriginPolicy, origin: string, host: string | undefined): boolean {
  if (policy.any) return true;
  const o = origin.replace(/\/+$/, '').toLowerCase();
  if (policy.origins.has(o)) return true;
  if (policy.origins.size > 0 || !host) return false;
  try {
    return new URL(o).host === host.toLowerCase();
  } catch {
    return false;
  }
}
