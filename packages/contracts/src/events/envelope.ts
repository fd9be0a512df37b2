import '../formats';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { EVENT_SCHEMAS, EVENT_VERSION, type EventData, type EventType } from './catalog';

/** Envelope every durable event carries. `id` doubles as the `Nats-Msg-Id`. */
export const EventEnvelopeSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  type: Type.String(),
  version: Type.Integer({ minimum: 1 }),
  occurredAt: Type.String({ format: 'date-time' }),
  producer: Type.String(),
  data: Type.Unknown(),
});
export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  version: number;
  occurredAt: string;
  producer: string;
  data: EventData<T>;
}
export type AnyEventEnvelope = { [K in EventType]: EventEnvelope<K> }[EventType];

/** Header names carried with every bus message. */
export const HEADERS = {
  requestId: 'x-request-id',
  traceparent: 'traceparent',
  eventType: 'parley-event-type',
} as const;
export interface EventHeaders {
  requestId?: string;
  traceparent?: string;
}

export class EventValidationError extends Error {
  constructor(
    readonly eventType: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(
      `invalid ${eventType} event: ${issues
        .slice(0, 5)
        .map((i) => `${i.path || '/'} ${i.message}`)
        .join('; ')}`,
    );
    this.name = 'EventValidationError';
  }
}

const envelopeCheck = TypeCompiler.Compile(EventEnvelopeSchema);
const dataChecks = new Map<string, TypeCheck<(typeof EVENT_SCHEMAS)[EventType]>>();
function checkerFor(type: EventType) {
  let c = dataChecks.get(type);
  if (!c) {
    c = TypeCompiler.Compile(EVENT_SCHEMAS[type]);
    dataChecks.set(type, c);
  }
  return c;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates an unknown value as an envelope of a known type; throws EventValidationError. */
export function parseEvent(value: unknown): AnyEventEnvelope {
  if (!envelopeCheck.Check(value)) {
    throw new EventValidationError(
      (value as { type?: string })?.type ?? 'unknown',
      [...envelopeCheck.Errors(value)].map((e) => ({ path: e.path, message: e.message })),
    );
  }
  const env = value as Static<typeof EventEnvelopeSchema>;
  if (!UUID_RE.test(env.id)) throw new EventValidationError(env.type, [{ path: '/id', message: 'not a UUID' }]);
  if (!(env.type in EVENT_SCHEMAS)) {
    throw new EventValidationError(env.type, [{ path: '/type', message: 'unknown event type' }]);
  }
  const check = checkerFor(env.type as EventType);
  if (!check.Check(env.data)) {
    throw new EventValidationError(
      env.type,
      [...check.Errors(env.data)].map((e) => ({ path: `/data${e.path}`, message: e.message })),
    );
  }
  return env as AnyEventEnvelope;
}

/** Validates the data of one event type; throws EventValidationError. */
export function assertEventData<T extends EventType>(type: T, data: unknown): asserts data is EventData<T> {
  const check = checkerFor(type);
  if (!check.Check(data)) {
    throw new EventValidationError(
      type,
      [...check.Errors(data)].map((e) => ({ path: `/data${e.path}`, message: e.message })),
    );
  }
}

export interface NewEventOptions {
  id: string;
  producer: string;
  occurredAt?: Date;
}

/** Builds a validated envelope. The caller supplies a UUID v7 id. */
export function makeEvent<T extends EventType>(type: T, data: EventData<T>, opts: NewEventOptions): EventEnvelope<T> {
  assertEventData(type, data);
  return {
    id: opts.id,
    type,
    version: EVENT_VERSION,
    occurredAt: (opts.occurredAt ?? new Date()).toISOString(),
    producer: opts.producer,
    data,
  };
}
