/**
 * Environment of the notification service, validated once at boot
 * (`loadConfig(NotificationConfig)`); nothing else reads `process.env`.
 */
import { baseServiceConfig } from '@parley/service-kit';
import { type Static, Type } from '@sinclair/typebox';

export const NotificationOwnConfig = Type.Object({
  /** Timeout of request/reply calls to other services (conversation members, auth users). */
  RPC_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 30_000, default: 2000 }),
  /** At most one `edit` notification per message within this window (API.md: once a minute). */
  EDIT_NOTIFY_INTERVAL_MS: Type.Integer({ minimum: 0, maximum: 86_400_000, default: 60_000 }),
  /**
   * Longest a list or count waits for the caller's own latest read
   * (read-your-writes watermark in KV) to be applied; 0 turns it off.
   */
  READ_YOUR_WRITES_WAIT_MS: Type.Integer({ minimum: 0, maximum: 5000, default: 1000 }),
  /** Characters of message content kept as the notification body. */
  BODY_PREVIEW_CHARS: Type.Integer({ minimum: 16, maximum: 1000, default: 140 }),
});

export const NotificationConfig = Type.Composite([baseServiceConfig({ port: 3004 }), NotificationOwnConfig]);
export type NotificationConfig = Static<typeof NotificationConfig>;
