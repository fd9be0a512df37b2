/**
 * Opaque page cursors: base64url JSON that only this service reads. A cursor
 * that does not decode to the expected shape is a validation error of the
 * `cursor` field, never a 500.
 */
import { validationFailed } from '@parley/service-kit';

export function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function decodeCursor<T>(raw: string | undefined, isValid: (v: unknown) => v is T): T | null {
  if (raw === undefined) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (isValid(value)) return value;
  } catch {
    // falls through to the validation error
  }
  throw validationFailed([{ field: 'cursor', code: 'invalid_format', message: 'is not a cursor of this list' }]);
}

const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

export type ListCursor = { d: 'before' | 'after'; s: number };
export const isListCursor = (v: unknown): v is ListCursor =>
  typeof v === 'object' &&
  v !== null &&
  ((v as ListCursor).d === 'before' || (v as ListCursor).d === 'after') &&
  isSeq((v as ListCursor).s);

export type RevCursor = { r: number };
export const isRevCursor = (v: unknown): v is RevCursor =>
  typeof v === 'object' && v !== null && isSeq((v as RevCursor).r);

export type PathCursor = { p: number[] };
export const isPathCursor = (v: unknown): v is PathCursor =>
  typeof v === 'object' &&
  v !== null &&
  Array.isArray((v as PathCursor).p) &&
  (v as PathCursor).p.length > 0 &&
  (v as PathCursor).p.length <= 1000 &&
  (v as PathCursor).p.every(isSeq);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export type IdCursor = { i: string };
export const isIdCursor = (v: unknown): v is IdCursor =>
  typeof v === 'object' && v !== null && typeof (v as IdCursor).i === 'string' && UUID_RE.test((v as IdCursor).i);
