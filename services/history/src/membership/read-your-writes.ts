/**
 * Read-your-writes for the event-fed views (history, search). The message
 * service records, after commit, the caller's latest change per conversation
 * in KV (`rw:<userId>:<conversationId>` = `{ rev, ... }`, TTL 60 s). Before
 * answering that caller we wait, bounded, until our model has applied that
 * rev, polling our own table. Best effort: a KV outage or a model still
 * behind at the deadline answers with what we have.
 */
import type { KeyValue } from '@parley/service-kit';
import type { Logger } from 'pino';

export const rwKey = (userId: string, conversationId: string) => `rw:${userId}:${conversationId}`;

/** The rev in a watermark value (`{"rev":12,...}` or a bare integer); null for anything else. */
export function watermarkRev(raw: string | null): number | null {
  if (raw === null) return null;
  const trimmed = raw.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  try {
    const v = JSON.parse(trimmed) as { rev?: unknown };
    return typeof v?.rev === 'number' && Number.isInteger(v.rev) && v.rev >= 0 ? v.rev : null;
  } catch {
    return null;
  }
}

export interface ReadYourWritesDeps {
  kv: KeyValue;
  maxWaitMs: number;
  pollMs?: number;
  /** Highest rev applied per conversation. */
  appliedRevs(conversationIds: string[]): Promise<Map<string, number>>;
  logger: Pick<Logger, 'warn'>;
}

const MAX_KEYS = 500;

export function createReadYourWrites(deps: ReadYourWritesDeps) {
  const pollMs = deps.pollMs ?? 20;
  return {
    async await(userId: string, conversationIds: string[]): Promise<void> {
      if (deps.maxWaitMs <= 0 || conversationIds.length === 0) return;
      try {
        const ids = conversationIds.slice(0, MAX_KEYS);
        const values = await deps.kv.mget(ids.map((id) => rwKey(userId, id)));
        let pending = new Map<string, number>();
        values.forEach((raw, i) => {
          const rev = watermarkRev(raw);
          if (rev !== null) pending.set(ids[i]!, rev);
        });
        const deadline = Date.now() + deps.maxWaitMs;
        while (pending.size > 0) {
          const applied = await deps.appliedRevs([...pending.keys()]);
          pending = new Map([...pending].filter(([id, rev]) => (applied.get(id) ?? 0) < rev));
          if (pending.size === 0 || Date.now() >= deadline) return;
          await new Promise((r) => setTimeout(r, pollMs));
        }
      } catch (err) {
        deps.logger.warn({ err }, 'read-your-writes check skipped');
      }
    },
  };
}

export type ReadYourWrites = ReturnType<typeof createReadYourWrites>;
