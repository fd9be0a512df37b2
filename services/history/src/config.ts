/**
 * Environment of the history service, validated once at boot
 * (`loadConfig(HistoryConfig)`); nothing else reads `process.env`.
 */
import { baseServiceConfig } from '@parley/service-kit';
import { type Static, Type } from '@sinclair/typebox';

export const HistoryOwnConfig = Type.Object({
  /** Timeout of request/reply calls to the conversation service (membership confirmation). */
  RPC_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 30_000, default: 2000 }),
  /**
   * Longest a read waits for the event-fed model to reach the caller's own
   * latest message write (read-your-writes watermark in KV); 0 turns it off.
   */
  READ_YOUR_WRITES_WAIT_MS: Type.Integer({ minimum: 0, maximum: 5000, default: 1000 }),
});

export const HistoryConfig = Type.Composite([baseServiceConfig({ port: 3005 }), HistoryOwnConfig]);
export type HistoryConfig = Static<typeof HistoryConfig>;
