/**
 * One 400 listing every failing field: the schema's findings (routes that
 * validate with `attachValidation`) merged with the service's own field
 * rules, one entry per field (the schema's first).
 */
import type { ErrorDetail } from '@parley/contracts';
import { detailsFromAjv, validationFailed } from '@parley/service-kit';
import type { FastifyRequest } from 'fastify';

export function assertValidFields(request: FastifyRequest, ruleProblems: ErrorDetail[]): void {
  const schemaProblems = request.validationError
    ? detailsFromAjv(
        (request.validationError as { validation?: Parameters<typeof detailsFromAjv>[0] }).validation ?? [],
        (request.validationError as { validationContext?: string }).validationContext ?? 'body',
      )
    : [];
  const byField = new Map<string, ErrorDetail>();
  for (const d of [...schemaProblems, ...ruleProblems]) if (!byField.has(d.field)) byField.set(d.field, d);
  if (byField.size > 0) throw validationFailed([...byField.values()]);
}

/** The body as a record of its fields when it is an object (rules run only on fields of the right type). */
export function bodyFields(body: unknown): Record<string, unknown> {
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
