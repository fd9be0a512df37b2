/**
 * PostgreSQL cannot store U+0000 in `text` or `jsonb`, and `jsonb` refuses a
 * lone UTF-16 surrogate (`\ud800` without its pair): such a string reaching a
 * query (a name, a title, a search term, a metadata key, an event payload in
 * the outbox) made the statement fail and the request answer 500. JSON and
 * query strings can carry both (`\u0000`, `%00`, `\ud800`), so every body and
 * query is checked before the handler and refused with 400
 * `validation_failed` naming each field.
 */
import type { ErrorDetail } from '@parley/contracts';
import { validationFailed } from './errors';
import type { FastifyRequest } from 'fastify';

const MAX_DEPTH = 32;
/** NUL, or a surrogate half without its other half (not well-formed Unicode). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const PROBLEM = { code: 'invalid_characters', message: 'must not contain NUL characters or unpaired surrogates' };

function collect(value: unknown, path: string, depth: number, out: ErrorDetail[]): void {
  if (out.length >= 50 || depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    if (UNSTORABLE.test(value)) out.push({ field: path || '(body)', ...PROBLEM });
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  // Only parsed JSON is walked: a proxied body (stream, Buffer) or any other
  // object graph is not user data to check, and may be huge or circular.
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      collect(item, path ? `${path}.${i}` : String(i), depth + 1, out);
    });
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const field = path ? `${path}.${key}` : key;
    if (UNSTORABLE.test(key)) {
      out.push({ field, ...PROBLEM });
      continue;
    }
    collect(item, field, depth + 1, out);
  }
}

/** A preHandler hook: 400 listing every body or query field holding a character Postgres cannot store. */
export async function refuseUnstorableCharacters(request: FastifyRequest): Promise<void> {
  const details: ErrorDetail[] = [];
  collect(request.query, '', 0, details);
  collect(request.body, '', 0, details);
  if (details.length > 0) throw validationFailed(details);
}
