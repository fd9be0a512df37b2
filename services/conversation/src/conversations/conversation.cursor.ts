/**
 * Opaque list cursors: base64url of a small JSON tuple holding the keyset
 * position of the last item returned. A cursor that does not decode to the
 * expected shape is a 400 on the `cursor` field, never a 500.
 */
import { validationFailed } from '@parley/service-kit';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface KeysetPosition {
  at: string;
  id: string;
}

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id]), 'utf8').toString('base64url');
}

/** Decodes a cursor made by `encodeCursor`; throws a 400 validation error otherwise. */
export function decodeCursor(cursor: string | undefined): KeysetPosition | null {
  if (cursor === undefined) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      !Number.isNaN(Date.parse(value[0])) &&
      UUID_RE.test(value[1])
    ) {
      return { at: new Date(value[0]).toISOString(), id: value[1] };
    }
  } catch {
    // fall through to the validation error
  }
  throw validationFailed([
    { field: 'cursor', code: 'invalid_cursor', message: 'cursor is not one this list returned' },
  ]);
}
