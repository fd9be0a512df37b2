/**
 * Opaque list cursors: the id of the last item of the page (ids are UUID v7,
 * so "older than this id" is "after it" in newest-first order), wrapped so
 * clients do not build their own.
 */
import { invalidCursor } from '../errors';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(lastId: string): string {
  return Buffer.from(`n1:${lastId}`, 'utf8').toString('base64url');
}

/** The id inside a cursor; throws a 400 validation error for anything else. */
export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.startsWith('n1:') ? text.slice(3) : '';
  if (!UUID_RE.test(id)) throw invalidCursor();
  return id;
}
