/**
 * What the HTTP layer logs, and what it never logs: secrets, tokens,
 * cookies and message bodies are redacted wherever they appear (to three
 * levels deep), request bodies are never logged, tokens in query strings are
 * masked, and database errors lose their bound parameters.
 */
import pino, { type Logger, type LoggerOptions } from 'pino';

export const REDACTED = '[Redacted]';

/** Field names whose values never reach a log line. */
export const SECRET_FIELDS = [
  'authorization',
  'cookie',
  'set-cookie',
  'password',
  'passwordConfirm',
  'currentPassword',
  'newPassword',
  'accessToken',
  'refreshToken',
  'token',
  'secret',
  'content',
] as const;

function segment(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `["${key}"]`;
}

/** pino `redact` paths: each secret field at the top level and up to three levels down. */
export function redactPaths(fields: readonly string[] = SECRET_FIELDS): string[] {
  const paths: string[] = [];
  for (const field of fields) {
    const seg = segment(field);
    paths.push(seg.startsWith('.') ? seg.slice(1) : seg);
    paths.push(`*${seg}`, `*.*${seg}`, `*.*.*${seg}`);
  }
  return paths;
}

const SECRET_QUERY = /token|password|secret|key|code|signature|sig|auth/i;
/** Query parameters that carry what users wrote (search text): as private as message bodies. */
const USER_TEXT_QUERY = new Set(['q', 'query']);

/** The URL with the values of secret-looking query parameters masked. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  let changed = false;
  for (const key of new Set(params.keys())) {
    if (SECRET_QUERY.test(key) || USER_TEXT_QUERY.has(key)) {
      params.set(key, REDACTED);
      changed = true;
    }
  }
  return changed ? `${url.slice(0, q)}?${params.toString()}` : url;
}

interface RequestLike {
  method?: string;
  url?: string;
  ip?: string;
  hostname?: string;
  socket?: { remoteAddress?: string };
  routeOptions?: { url?: string };
}

function serializeRequest(req: RequestLike) {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
    route: req.routeOptions?.url,
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
  };
}

function serializeReply(reply: { statusCode?: number }) {
  return { statusCode: reply.statusCode };
}

/** Standard error serializer minus what may hold user data (query parameters of failed SQL). */
function serializeError(err: unknown) {
  if (!(err instanceof Error)) return err;
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  scrubError(out);
  return out;
}
function scrubError(out: Record<string, unknown>, depth = 0) {
  if (depth > 4) return;
  delete out.parameters;
  delete out.params;
  delete out.args;
  for (const k of ['message', 'stack'] as const) {
    if (typeof out[k] === 'string') out[k] = (out[k] as string).replace(/\nparams: [\s\S]*$/, '\nparams: [Redacted]');
  }
  if (out.cause && typeof out.cause === 'object') scrubError(out.cause as Record<string, unknown>, depth + 1);
}

export const serializers = { req: serializeRequest, res: serializeReply, err: serializeError };

/** Options for a pino logger (or child) that follows these rules. */
export function safeLoggerOptions(): Pick<LoggerOptions, 'redact' | 'serializers'> {
  return {
    redact: { paths: redactPaths(), censor: REDACTED },
    serializers,
  };
}

/** A child of `base` that follows these rules, whatever `base` was configured with. */
export function safeChildLogger(base: Logger, bindings: Record<string, unknown>, level?: string): Logger {
  return base.child(bindings, { ...safeLoggerOptions(), ...(level ? { level } : {}) });
}
