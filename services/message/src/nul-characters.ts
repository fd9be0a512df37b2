/**
 * PostgreSQL cannot store U+0000 in `text` or `jsonb`: a NUL character in any
 * string that reaches a query (a name, a title, a search term, a metadata key)
 * made the statement fail and the request answer 500. JSON and query strings
 * can carry one (`\u0000`, `%00`), so every body and query is checked before
 * the handler and refused with 400 `validation_failed` naming each field.
 */
import { type ErrorDetail, validationFailed } from '@parley/service-kit';
import type { FastifyRequest } from 'fastify';

const MAX_DEPTH = 32;

function collect(value: unknown, path: string, depth: number, out: ErrorDetail[]): void {
  if (out.length >= 50 || depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) {
      out.push({ field: path || '(body)', code: 'invalid_characters', message: 'must not contain NUL characters' });
    }
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      collect(item, path ? `${path}.${i}` : String(i), depth + 1, out);
    });
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const field = path ? `${path}.${key}` : key;
    if (key.includes('\u0000')) {
      out.push({ field, code: 'invalid_characters', message: 'must not contain NUL characters' });
      continue;
    }
    collect(item, field, depth + 1, out);
  }
}

/** A preHandler hook: 400 listing every body or query field holding a NUL character. */
export async function refuseNulCharacters(request: FastifyRequest): Promise<void> {
  const details: ErrorDetail[] = [];
  collect(request.query, '', 0, details);
  collect(request.body, '', 0, details);
  if (details.length > 0) throw validationFailed(details);
}
