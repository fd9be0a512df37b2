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
const MAX_NODES = 100_000;
/** NUL, or a surrogate half without its other half (not well-formed Unicode). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const PROBLEM = { code: 'invalid_characters', message: 'must not contain NUL characters or unpaired surrogates' };

/** Values that are not parsed input: a proxied body (stream), bytes, or class instances with behaviour. */
function isOpaque(value: object): boolean {
  return (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    typeof (value as { pipe?: unknown }).pipe === 'function' ||
    typeof (value as { on?: unknown }).on === 'function'
  );
}

/**
 * Walks parsed JSON and query objects (whatever their prototype: Fastify's
 * query objects have their own), never streams or buffers, visiting each
 * object once and at most MAX_NODES values, so no input can make it spin.
 */
function collect(
  value: unknown,
  path: string,
  depth: number,
  out: ErrorDetail[],
  seen: WeakSet<object>,
  budget: { left: number },
): void {
  if (out.length >= 50 || depth > MAX_DEPTH || budget.left-- <= 0) return;
  if (typeof value === 'string') {
    if (UNSTORABLE.test(value)) out.push({ field: path || '(body)', ...PROBLEM });
    return;
  }
  if (typeof value !== 'object' || value === null || seen.has(value) || isOpaque(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      collect(item, path ? `${path}.${i}` : String(i), depth + 1, out, seen, budget);
    });
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const field = path ? `${path}.${key}` : key;
    if (UNSTORABLE.test(key)) {
      out.push({ field, ...PROBLEM });
      continue;
    }
    collect(item, field, depth + 1, out, seen, budget);
  }
}

/** A preHandler hook: 400 listing every body or query field holding a character Postgres cannot store. */
export async function refuseUnstorableCharacters(request: FastifyRequest): Promise<void> {
  const details: ErrorDetail[] = [];
  const seen = new WeakSet<object>();
  const budget = { left: MAX_NODES };
  collect(request.query, '', 0, details, seen, budget);
  collect(request.body, '', 0, details, seen, budget);
  if (details.length > 0) throw validationFailed(details);
}
