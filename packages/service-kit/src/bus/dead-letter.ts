/**
 * Dead letters: an event that still fails after `maxDeliver` tries, or that
 * does not validate against its contract, must stop being retried (or it
 * blocks its consumer and hides everything behind it) but must not vanish.
 * Both adapters publish this record on the core subject
 * `deadletter.<durable>` and log it without the payload; an operator tool
 * subscribed there can store or replay it.
 */
import type { StreamKey } from '@parley/contracts';
import type { Logger } from 'pino';

export interface DeadLetterRecord {
  durable: string;
  stream: StreamKey;
  /** Subject of the event, without the deployment prefix. */
  subject: string;
  streamSeq: number;
  deliveryCount: number;
  /** `max_deliver`: the handler kept failing (or never acked); `invalid_event`: the payload failed validation. */
  reason: 'max_deliver' | 'invalid_event';
  /** Last error message. */
  error: string;
  eventId: string | null;
  eventType: string | null;
  /** The payload as stored (for replay). Published on the bus, never logged. */
  event: unknown;
  at: string;
}

export function deadLetterSubject(durable: string): string {
  return `deadletter.${durable}`;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : 'non-error thrown';
}

function field(event: unknown, name: 'id' | 'type'): string | null {
  if (event && typeof event === 'object') {
    const v = (event as Record<string, unknown>)[name];
    if (typeof v === 'string') return v;
  }
  return null;
}

export function makeDeadLetter(
  init: Omit<DeadLetterRecord, 'eventId' | 'eventType' | 'at' | 'error'> & { error: unknown },
): DeadLetterRecord {
  return {
    ...init,
    error: errorMessage(init.error),
    eventId: field(init.event, 'id'),
    eventType: field(init.event, 'type'),
    at: new Date().toISOString(),
  };
}

/** Logs a dead letter without its payload. */
export function logDeadLetter(logger: Logger, record: DeadLetterRecord): void {
  const { event: _payload, ...meta } = record;
  logger.warn(meta, 'event dead-lettered');
}
