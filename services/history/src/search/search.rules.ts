/**
 * Pure helpers of search: the snippet shown to clients (HTML-escaped, with
 * `<mark>` around matched words) and the opaque (rank, id) cursor.
 */
import { invalidCursor } from '../errors';
import { MATCH_END, MATCH_START } from './search.repository';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes the text so the snippet is safe to render as HTML, then turns the match marks into `<mark>`. */
export function renderSnippet(raw: string): string {
  return raw
    .replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!)
    .replaceAll(MATCH_START, '<mark>')
    .replaceAll(MATCH_END, '</mark>');
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface SearchCursor {
  rank: number;
  id: string;
}

export function encodeSearchCursor(c: SearchCursor): string {
  return Buffer.from(JSON.stringify({ r: c.rank, i: c.id }), 'utf8').toString('base64url');
}

export function decodeSearchCursor(cursor: string): SearchCursor {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { r?: unknown; i?: unknown };
    if (typeof v.r === 'number' && Number.isFinite(v.r) && typeof v.i === 'string' && UUID_RE.test(v.i)) {
      return { rank: v.r, id: v.i };
    }
  } catch {
    // fall through
  }
  throw invalidCursor();
}
