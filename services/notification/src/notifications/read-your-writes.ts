/**
 * Read-your-writes for read state. The message service records, after its
 * commit, the caller's latest change per conversation in KV
 * (`rw:<userId>:<conversationId>` = `{ rev, readSeq? }`, TTL 60 s). A read
 * (`readSeq`) marks notifications read here only once its `receipt.read`
 * event is applied, so before listing or counting for that caller we wait,
 * bounded, until our read markers reached their watermarks. Best effort: a
 * KV outage or a model still behind at the deadline answers with what we
 * have (the event arrives within 2 s anyway).
 */
import type { KeyValue } from '@parley/service-kit';
import type { Logger } from 'pino';

export const rwKey = (userId: string, conversationId: string) => `rw:${userId}:${conversationId}`;

/** The `readSeq` of a watermark value; null when it has none or is malformed. */
export function watermarkReadSeq(raw: string | null): number | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as { readSeq?: unknown; lastReadSeq?: unknown };
    const seq = v?.readSeq ?? v?.lastReadSeq;
    return typeof seq === 'number' && Number.isInteger(seq) && seq >= 0 ? seq : null;
  } catch {
    return null;
  }
}

export interface ReadYourWritesDeps {
  kv: KeyValue;
  maxWaitMs: number;
  pollMs?: number;
  conversationsOf(userId: string, limit: number): Promise<string[]>;
  readMarks(userId: string, conversationIds: string[]): Promise<Map<string, number>>;
  logger: Pick<Logger, 'warn'>;
}

const MAX_KEYS = 500;

export function createReadYourWrites(deps: ReadYourWritesDeps) {
  const pollMs = deps.pollMs ?? 20;
  return {
    async await(userId: string): Promise<void> {
      if (deps.maxWaitMs <= 0) return;
      try {
        const ids = await deps.conversationsOf(userId, MAX_KEYS);
        if (ids.length === 0) return;
        const values = await deps.kv.mget(ids.map((id) => rwKey(userId, id)));
        let pending = new Map<string, number>();
        values.forEach((raw, i) => {
          const seq = watermarkReadSeq(raw);
          if (seq !== null) pending.set(ids[i]!, seq);
        });
        const deadline = Date.now() + deps.maxWaitMs;
        while (pending.size > 0) {
          const marks = await deps.readMarks(userId, [...pending.keys()]);
          pending = new Map([...pending].filter(([id, seq]) => (marks.get(id) ?? 0) < seq));
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
