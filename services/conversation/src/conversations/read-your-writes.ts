/**
 * Read-your-writes for the message-derived fields (lastMessage, lastSeq,
 * unreadCount). The message service records, after commit, the caller's
 * latest change per conversation in KV (`rw:<userId>:<conversationId>`, TTL
 * 60 s). Before answering that caller, we wait (bounded) until our event-fed
 * read model has caught up with that watermark, polling our own tables. The
 * wait is best effort: a KV outage or a model still behind at the deadline
 * answers with what we have (the events arrive within 2 s anyway).
 *
 * Watermark values understood: a JSON object with any of `rev` (message
 * change counter), `seq` (message position) and `readSeq` (the caller's read
 * marker), or a bare integer taken as a `rev`.
 */
import type { KeyValue } from '@parley/service-kit';
import type { Logger } from 'pino';

export interface Watermark {
  rev?: number;
  seq?: number;
  readSeq?: number;
}

export interface ModelPosition {
  conversationId: string;
  lastSeq: number;
  lastRev: number;
  lastReadSeq: number | null;
}

export const rwKey = (userId: string, conversationId: string) => `rw:${userId}:${conversationId}`;

const int = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;

/** Parses a watermark value; anything unexpected is ignored (null). */
export function parseWatermark(raw: string | null): Watermark | null {
  if (raw === null) return null;
  const trimmed = raw.trim();
  if (/^\d+$/.test(trimmed)) return { rev: Number(trimmed) };
  try {
    const v: unknown = JSON.parse(trimmed);
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    const w: Watermark = {
      rev: int(o.rev),
      seq: int(o.seq),
      readSeq: int(o.readSeq) ?? int(o.lastReadSeq),
    };
    return w.rev === undefined && w.seq === undefined && w.readSeq === undefined ? null : w;
  } catch {
    return null;
  }
}

/** True when the model position has reached the watermark. */
export function reached(p: ModelPosition, w: Watermark): boolean {
  if (w.rev !== undefined && p.lastRev < w.rev) return false;
  if (w.seq !== undefined && p.lastSeq < w.seq) return false;
  if (w.readSeq !== undefined && (p.lastReadSeq ?? 0) < w.readSeq) return false;
  return true;
}

export interface ReadYourWritesDeps {
  kv: KeyValue;
  maxWaitMs: number;
  pollMs?: number;
  /** The user's conversation ids (for list calls without explicit ids). */
  conversationIdsOf(userId: string): Promise<string[]>;
  positions(userId: string, conversationIds: string[]): Promise<ModelPosition[]>;
  logger: Pick<Logger, 'warn' | 'info' | 'debug'>;
}

const MAX_KEYS = 500;

export function createReadYourWrites(deps: ReadYourWritesDeps) {
  const pollMs = deps.pollMs ?? 20;
  let lastWarning = 0;

  async function watermarks(userId: string, ids: string[]): Promise<Map<string, Watermark>> {
    const out = new Map<string, Watermark>();
    if (ids.length === 0) return out;
    const values = await deps.kv.mget(ids.map((id) => rwKey(userId, id)));
    values.forEach((raw, i) => {
      const w = parseWatermark(raw);
      if (w) out.set(ids[i]!, w);
    });
    return out;
  }

  return {
    /** Waits until the model reflects the user's own latest message writes (bounded). */
    async await(userId: string, conversationIds?: string[]): Promise<void> {
      if (deps.maxWaitMs <= 0) return;
      try {
        const ids = (conversationIds ?? (await deps.conversationIdsOf(userId))).slice(0, MAX_KEYS);
        let pending = await watermarks(userId, ids);
        const deadline = Date.now() + deps.maxWaitMs;
        while (pending.size > 0) {
          const positions = await deps.positions(userId, [...pending.keys()]);
          for (const p of positions) {
            if (reached(p, pending.get(p.conversationId)!)) pending.delete(p.conversationId);
          }
          // A conversation that no longer exists has nothing to wait for.
          const known = new Set(positions.map((p) => p.conversationId));
          pending = new Map([...pending].filter(([id]) => known.has(id)));
          if (pending.size === 0 || Date.now() >= deadline) return;
          await new Promise((r) => setTimeout(r, pollMs));
        }
      } catch (err) {
        // Fail open (the events still arrive within seconds); say so at most every 10 s.
        if (Date.now() - lastWarning > 10_000) {
          lastWarning = Date.now();
          deps.logger.warn({ err }, 'read-your-writes check skipped');
        }
      }
    },
  };
}

export type ReadYourWrites = ReturnType<typeof createReadYourWrites>;
