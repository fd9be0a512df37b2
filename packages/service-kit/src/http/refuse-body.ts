/**
 * Routes that take no body (close, join, delete, ...) still refuse one that
 * carries fields: API.md answers unknown fields with 400 `validation_failed`
 * listing each of them, and a client that sends `{ "reason": ... }` must learn
 * that it was not understood. No body, `null` or `{}` pass.
 */
import { validationFailed } from './errors';
import type { FastifyRequest } from 'fastify';

export async function refuseBodyFields(request: FastifyRequest): Promise<void> {
  const body: unknown = request.body;
  if (body === undefined || body === null) return;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw validationFailed([{ field: 'body', code: 'invalid_type', message: 'this route takes no body' }]);
  }
  const fields = Object.keys(body);
  if (fields.length > 0) {
    throw validationFailed(
      fields.map((field) => ({ field, code: 'unknown_field', message: 'is not an allowed field' })),
    );
  }
}
