/**
 * Environment of the message service, validated once at boot
 * (`loadConfig(MessageConfig)`); nothing else reads `process.env`.
 */
import { BaseServiceConfig } from '@parley/service-kit';
import { type Static, Type } from '@sinclair/typebox';

export const MessageOwnConfig = Type.Object({
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 3003 }),
  /** Sustained message sends per user per minute (REST and WebSocket together). */
  RATE_LIMIT_SEND_PER_MIN: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 60 }),
  /** Sends a user may make at once before the per-minute rate applies. */
  RATE_LIMIT_SEND_BURST: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 20 }),
  /** Timeout of request/reply calls to the conversation and auth services. */
  RPC_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 30_000, default: 2000 }),
  /** Lifetime of the read-your-writes watermark `rw:<userId>:<conversationId>` in KV. */
  READ_YOUR_WRITES_TTL_MS: Type.Integer({ minimum: 1000, maximum: 600_000, default: 60_000 }),
});

export const MessageConfig = Type.Composite([BaseServiceConfig, MessageOwnConfig]);
export type MessageConfig = Static<typeof MessageConfig>;
