/**
 * Environment of the conversation service, validated once at boot
 * (`loadConfig(ConversationConfig)`); nothing else reads `process.env`.
 */
import { baseServiceConfig } from '@parley/service-kit';
import { type Static, Type } from '@sinclair/typebox';

export const ConversationOwnConfig = Type.Object({
  /** Timeout of request/reply calls to other services (auth users lookup). */
  RPC_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 30_000, default: 2000 }),
  /**
   * Longest a read waits for the local message read model to reach the
   * caller's own latest send/read (read-your-writes); 0 turns it off.
   */
  READ_YOUR_WRITES_WAIT_MS: Type.Integer({ minimum: 0, maximum: 5000, default: 1000 }),
});

export const ConversationConfig = Type.Composite([baseServiceConfig({ port: 3002 }), ConversationOwnConfig]);
export type ConversationConfig = Static<typeof ConversationConfig>;
