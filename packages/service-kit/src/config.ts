/**
 * Config is data (STYLE.md, habit 3): each service describes its environment
 * as one TypeBox object, validated once at boot. A bad environment fails fast
 * with a message naming every failing variable (never its value: values may
 * be secrets).
 */
import { type Static, type TObject, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const LogLevel = Type.Union(
  [
    Type.Literal('fatal'),
    Type.Literal('error'),
    Type.Literal('warn'),
    Type.Literal('info'),
    Type.Literal('debug'),
    Type.Literal('trace'),
    Type.Literal('silent'),
  ],
  { default: 'info' },
);

/**
 * The variables every service reads. `PORT` defaults to 3000; a service whose
 * port differs builds its base with `baseServiceConfig({ port })`.
 */
export function baseServiceConfig(defaults: { port?: number; redisAutoPipelining?: boolean } = {}) {
  return Type.Object({
    PORT: Type.Integer({ minimum: 0, maximum: 65535, default: defaults.port ?? 3000 }),
    HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
    /**
     * Pending-connection queue of the listening socket (the kernel caps it at
     * net.core.somaxconn). Node's default, 511, overflows when a gateway
     * takes a burst of connections (a reconnect storm): the kernel drops the
     * SYNs and clients retry after 1, 2, 4... seconds.
     */
    LISTEN_BACKLOG: Type.Integer({ minimum: 1, maximum: 65535, default: 4096 }),
    LOG_LEVEL: LogLevel,
    DATABASE_URL: Type.Optional(Type.String({ minLength: 1 })),
    NATS_URL: Type.Optional(Type.String({ minLength: 1 })),
    REDIS_URL: Type.Optional(Type.String({ minLength: 1 })),
    BUS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 64, default: 'parley' }),
    KV_PREFIX: Type.String({ maxLength: 64, default: 'parley:' }),
    DATA_DIR: Type.String({ minLength: 1, default: '.data' }),
    BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 64 * 1024 }),
    AUTH_ISSUER: Type.String({ minLength: 1, default: 'parley' }),
    AUTH_AUDIENCE: Type.String({ minLength: 1, default: 'parley' }),
    /** Postgres pool size per process. */
    DB_POOL_MAX: Type.Integer({ minimum: 2, maximum: 500, default: 10 }),
    /** Prepared statements; set false behind PgBouncer in transaction mode. */
    DB_PREPARE: Type.Boolean({ default: true }),
    /** Pipeline the Redis commands of one event-loop turn (the gateway's default: true). */
    REDIS_AUTO_PIPELINING: Type.Boolean({ default: defaults.redisAutoPipelining ?? false }),
    /** JetStream replicas of the streams this service provisions. */
    STREAM_REPLICAS: Type.Integer({ minimum: 1, maximum: 5, default: 1 }),
  });
}
export const BaseServiceConfig = baseServiceConfig();
export type BaseServiceConfig = Static<typeof BaseServiceConfig>;

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Describes what a property schema expects, for error messages. */
function expectation(schema: TSchema | undefined, fallback: string): string {
  if (!schema) return fallback;
  if (Array.isArray(schema.anyOf) && schema.anyOf.every((s: TSchema) => 'const' in s)) {
    return `expected one of ${schema.anyOf.map((s: TSchema) => String(s.const)).join(', ')}`;
  }
  const parts: string[] = [];
  if (schema.type === 'integer') parts.push('expected integer');
  else if (schema.type === 'number') parts.push('expected number');
  else if (schema.type === 'boolean') parts.push('expected true or false');
  else if (schema.type === 'string') parts.push('expected string');
  if (schema.minimum !== undefined) parts.push(`>= ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`<= ${schema.maximum}`);
  if (schema.minLength !== undefined) parts.push(`length >= ${schema.minLength}`);
  if (schema.maxLength !== undefined) parts.push(`length <= ${schema.maxLength}`);
  if (schema.pattern !== undefined) parts.push(`matching ${schema.pattern}`);
  if (schema.format !== undefined) parts.push(`in format ${schema.format}`);
  return parts.length ? `${parts.join(', ')} (${fallback})` : fallback;
}

/**
 * Reads the variables `schema` names from `env` (empty strings count as
 * unset), converts strings to the declared types, applies defaults and
 * checks. Throws ConfigError naming every failing variable.
 */
export function loadConfig<T extends TObject>(
  schema: T,
  env: Record<string, string | undefined> = process.env,
): Static<T> {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== '') input[key] = raw;
  }
  const converted = Value.Convert(schema, input);
  const withDefaults = Value.Default(schema, converted);
  if (Value.Check(schema, withDefaults)) return withDefaults as Static<T>;

  const byVariable = new Map<string, string>();
  for (const error of Value.Errors(schema, withDefaults)) {
    const variable = error.path.split('/')[1] ?? '(root)';
    if (byVariable.has(variable)) continue;
    const missing = input[variable] === undefined;
    const propSchema = schema.properties[variable] as TSchema | undefined;
    byVariable.set(variable, missing ? 'is required' : expectation(propSchema, error.message));
  }
  throw new ConfigError([...byVariable].map(([variable, message]) => ({ variable, message })));
}
