/**
 * Request validation with Ajv, configured for the API contract:
 * - `allErrors`: a 400 lists every failing field, not only the first (the
 *   DoS risk Fastify warns about is bounded by the body limit and by the
 *   `maxLength`/`maxItems` caps every schema carries);
 * - `removeAdditional: false`: unknown fields are errors, not silently dropped;
 * - type coercion only for the querystring, params and headers (all strings on
 *   the wire); a JSON body must carry the declared types;
 * - string formats (uuid, email, uri, date-time) from ajv-formats.
 */
import Ajv, { type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

const common: Options = {
  allErrors: true,
  removeAdditional: false,
  useDefaults: true,
  // `verbose` puts the failing schema on each error, used to list a union's allowed values.
  verbose: true,
  addUsedSchema: false,
  strictTypes: false,
};

function makeAjv(coerce: boolean) {
  const ajv = new Ajv({ ...common, coerceTypes: coerce ? 'array' : false });
  addFormats(ajv, ['uuid', 'email', 'uri', 'date-time', 'date', 'time', 'hostname', 'ipv4', 'ipv6']);
  return ajv;
}

export function createValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const strict = makeAjv(false);
  const coercing = makeAjv(true);
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing;
    return ajv.compile(schema as object) as ValidateFunction;
  };
}
