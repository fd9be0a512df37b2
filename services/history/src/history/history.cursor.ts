/** Opaque cursor of history pages: the rev of the last revision returned. */
import { invalidCursor } from '../errors';

export function encodeRevCursor(rev: number): string {
  return Buffer.from(`r:${rev}`, 'utf8').toString('base64url');
}

export function decodeRevCursor(cursor: string): number {
  const m = /^r:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw invalidCursor();
  return Number(m[1]);
}
