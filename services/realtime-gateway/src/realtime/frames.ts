/**
 * Parsing and validation of client frames with the contracts' TypeBox
 * schemas (compiled once). A bad frame is a value, not an exception: the
 * connection answers it with an `error` frame and lives on.
 */
import { CLIENT_FRAMES, type ClientFrame, type ClientFrameType, type ErrorDetail } from '@parley/contracts';
import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';

const checks = Object.fromEntries(
  Object.entries(CLIENT_FRAMES).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
) as unknown as Record<ClientFrameType, TypeCheck<TSchema>>;

export type FrameParseResult =
  | { ok: true; frame: ClientFrame }
  | {
      ok: false;
      code: 'bad_request' | 'validation_failed';
      message: string;
      details?: ErrorDetail[];
      /** The frame's id when it had a usable one, for `replyTo`. */
      replyTo?: string;
    };

function usableId(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length >= 1 && id.length <= 64 ? id : undefined;
}

/** The `id` of a frame without validating the rest (for replies to refused frames). */
export function frameIdOf(raw: string): string | undefined {
  try {
    return usableId(JSON.parse(raw));
  } catch {
    return undefined;
  }
}

export function parseClientFrame(raw: string): FrameParseResult {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'bad_request', message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'bad_request', message: 'frame must be a JSON object' };
  }
  const replyTo = usableId(value);
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(CLIENT_FRAMES, type)) {
    return {
      ok: false,
      code: 'validation_failed',
      message: 'unknown frame type',
      details: [
        { field: 'type', code: 'invalid_value', message: `expected one of ${Object.keys(CLIENT_FRAMES).join(', ')}` },
      ],
      replyTo,
    };
  }
  const check = checks[type as ClientFrameType];
  if (!check.Check(value)) {
    const details: ErrorDetail[] = [];
    const seen = new Set<string>();
    for (const e of check.Errors(value)) {
      const field = e.path.replace(/^\//, '').replace(/\//g, '.') || '(frame)';
      if (seen.has(field)) continue;
      seen.add(field);
      details.push({ field, code: 'invalid', message: e.message });
      if (details.length >= 20) break;
    }
    return { ok: false, code: 'validation_failed', message: `invalid ${type} frame`, details, replyTo };
  }
  return { ok: true, frame: value as ClientFrame };
}
