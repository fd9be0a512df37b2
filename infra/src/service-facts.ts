/**
 * What the services really are, learned from their code rather than from
 * the manifests: each folder under services/ is loaded through its package's
 * front door (`<package>/config` for the TypeBox env schema, `<package>` for
 * `buildApp`), its app is built in memory on embedded infrastructure
 * (`createTestInfra({ real: false })`) and asked over `app.inject` which
 * paths it serves, how its /metrics may be scraped and which metrics and
 * durable consumers it registers. The parity checks compare the manifests
 * with these facts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Infra, loadConfig } from '@parley/service-kit';
import { createTestInfra, type TestInfra } from '@parley/service-kit/testing';
import type { TObject, TSchema } from '@sinclair/typebox';

/** The HTTP surface `buildApp` returns, as far as the checks use it. */
interface InjectableApp {
  inject(opts: {
    method: 'GET';
    url: string;
    remoteAddress: string;
    headers?: Record<string, string>;
  }): Promise<{ statusCode: number; body: string }>;
  close(): Promise<unknown>;
}
type BuildApp = (config: never, infra: Infra) => Promise<InjectableApp>;

export interface ServiceModule {
  /** Folder name under services/ (also the Deployment, Service and image name). */
  name: string;
  packageName: string;
  /** Name of the exported config schema, e.g. `GatewayConfig`. */
  configExport: string;
  schema: TObject;
  /** The service owns a Postgres schema (it has drizzle migrations). */
  usesDatabase: boolean;
  buildApp: BuildApp;
}

/** Environment rules derived from a service's config schema. */
export interface EnvRules {
  /** Every variable the schema reads. */
  known: string[];
  /** In the schema's `required` list and without a default: the service does not start without it. */
  required: string[];
  /** Must be set in a cluster (variable -> why); includes `required`. */
  cluster: Record<string, string>;
  /** Must come from a Secret, never a ConfigMap or a literal value. */
  secret: string[];
  /** PORT when unset. */
  defaultPort: number;
}

/** Names of secrets: `*_SECRET`, `*_TOKEN`, `*_PASSWORD`, `*_PRIVATE_KEY` (not `AUTH_REFRESH_TOKEN_DAYS`). */
const SECRET_NAME = /(^|_)(SECRET|TOKEN|PASSWORD|PRIVATE_KEY)$/;
/** URLs that carry credentials (database and Redis passwords). */
const SECRET_URLS = new Set(['DATABASE_URL', 'REDIS_URL']);
const LOOPBACK = /\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/;

export function isSecretName(name: string): boolean {
  return SECRET_URLS.has(name) || SECRET_NAME.test(name);
}

/** A property's default, also inside `allOf` (Type.Composite of two schemas with the same key; the last wins, as Value.Default does). */
export function defaultOf(schema: TSchema): unknown {
  if (schema.default !== undefined) return schema.default;
  const inner = ((schema.allOf ?? []) as TSchema[]).map(defaultOf).filter((d) => d !== undefined);
  return inner[inner.length - 1];
}

/**
 * Which variables a cluster deployment must set, from the schema alone:
 * - required without default (the service would not start);
 * - `*_URL` without default (unset, the service falls back to an embedded
 *   stand-in: an in-memory bus or key-value store, a PGlite database, which
 *   in a cluster silently splits the system); DATABASE_URL only for a
 *   service with a database;
 * - a default pointing at loopback (e.g. the gateway's upstream URLs);
 * - a secret-like name without default (unset, a development fallback runs:
 *   a per-process key, a loopback-only /metrics).
 */
export function envRulesOf(schema: TObject, opts: { usesDatabase: boolean }): EnvRules {
  const props = schema.properties as Record<string, TSchema>;
  const requiredList = new Set(schema.required ?? []);
  const known = Object.keys(props);
  const required = known.filter((k) => requiredList.has(k) && defaultOf(props[k]) === undefined);
  const cluster: Record<string, string> = {};
  for (const k of required) cluster[k] = 'required by the config schema';
  for (const k of known) {
    const def = defaultOf(props[k]);
    if (def === undefined && k.endsWith('_URL') && (k !== 'DATABASE_URL' || opts.usesDatabase)) {
      cluster[k] ??= 'unset, the service falls back to an embedded stand-in';
    }
    if (typeof def === 'string' && LOOPBACK.test(def)) {
      cluster[k] ??= `its default ${def} is loopback`;
    }
    if (def === undefined && SECRET_NAME.test(k)) {
      cluster[k] ??= 'unset, a development-only fallback runs';
    }
  }
  const port = props.PORT ? defaultOf(props.PORT) : undefined;
  return {
    known,
    required,
    cluster,
    secret: known.filter(isSecretName),
    defaultPort: typeof port === 'number' ? port : 3000,
  };
}

function isConfigSchema(value: unknown): value is TObject {
  const v = value as TObject | undefined;
  return !!v && typeof v === 'object' && v.type === 'object' && !!v.properties && 'PORT' in v.properties;
}

/**
 * Loads every service folder (one with a package.json) under `<root>/services`.
 * A folder that cannot be loaded is reported, not skipped.
 */
export async function loadServiceModules(root: string): Promise<{ modules: ServiceModule[]; problems: string[] }> {
  const modules: ServiceModule[] = [];
  const problems: string[] = [];
  const dir = join(root, 'services');
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'package.json')))
    .map((d) => d.name)
    .sort();
  for (const name of names) {
    const packageName = (JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as { name: string }).name;
    try {
      const configModule = (await import(`${packageName}/config`)) as Record<string, unknown>;
      const configExport = Object.keys(configModule).find(
        (k) => k.endsWith('Config') && !k.endsWith('OwnConfig') && isConfigSchema(configModule[k]),
      );
      if (!configExport) throw new Error('src/config.ts exports no <Name>Config schema with PORT');
      const appModule = (await import(packageName)) as { buildApp?: BuildApp };
      if (typeof appModule.buildApp !== 'function') throw new Error(`${packageName} exports no buildApp`);
      modules.push({
        name,
        packageName,
        configExport,
        schema: configModule[configExport] as TObject,
        usesDatabase: existsSync(join(dir, name, 'drizzle')),
        buildApp: appModule.buildApp,
      });
    } catch (err) {
      problems.push(
        `services/${name}: cannot load ${packageName} and its "./config" export (a dependency of @parley/infra?): ${(err as Error).message}`,
      );
    }
  }
  return { modules, problems };
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((f) => f.isFile() && f.name.endsWith('.ts') && !f.name.endsWith('.test.ts'))
    .map((f) => join(f.parentPath, f.name));
}

/**
 * Command-line flags (`--word-word`) the code a service runs mentions: its
 * own src/ and the service kit's (which owns `runService`). An init container
 * passing a flag nobody handles would run the whole service and never exit.
 */
export function cliFlagsOf(root: string, service: string): string[] {
  const flags = new Set<string>();
  for (const dir of [join(root, 'services', service, 'src'), join(root, 'packages', 'service-kit', 'src')]) {
    for (const file of sourceFiles(dir)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/['"`](--[a-z][a-z0-9-]*)['"`]/g)) flags.add(m[1]);
    }
  }
  return [...flags].sort();
}

/** What a running service answers. */
export interface HttpFacts {
  /** GET path -> status, asked from a non-loopback address as the kubelet and Prometheus are. */
  status: Record<string, number>;
  metrics: {
    /** Status of an anonymous non-loopback GET /metrics. */
    anonymous: number;
    /** When anonymous scrapes are refused: the variable whose value as a bearer token is accepted. */
    bearerVariable?: string;
  };
  /** Metric families the service registers (`# TYPE` lines). */
  metricNames: string[];
  /** Durable consumers the service runs (`consumer_pending{durable=...}`). */
  durables: string[];
  /** A failure to build the app or to scrape it. */
  error?: string;
}

/** A stand-in value for a secret: long enough for any length rule, recognisable in a failure. */
export function placeholderSecret(name: string): string {
  return `placeholder-${name.toLowerCase().replace(/_/g, '-')}-0123456789abcdef0123456789abcdef`;
}

const REMOTE = '10.1.2.3';

function parseMetrics(text: string): { names: string[]; durables: string[] } {
  const names = new Set<string>();
  const durables = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) names.add(type[1]);
    const durable = /^consumer_pending\{[^}]*durable="([^"]+)"/.exec(line);
    if (durable) durables.add(durable[1]);
  }
  return { names: [...names].sort(), durables: [...durables].sort() };
}

/**
 * Builds each service's app once, with its schema's defaults plus a
 * placeholder for every secret-like variable (so a token-guarded endpoint
 * can be tried with its token), and answers questions about it. Close it
 * in afterAll.
 */
export class ServiceHarness {
  private readonly apps = new Map<string, Promise<{ app?: InjectableApp; infra?: TestInfra; error?: string }>>();

  constructor(private readonly modules: readonly ServiceModule[]) {}

  private start(mod: ServiceModule) {
    let started = this.apps.get(mod.name);
    if (!started) {
      started = (async () => {
        const env: Record<string, string> = {};
        for (const k of Object.keys(mod.schema.properties)) {
          if (SECRET_NAME.test(k)) env[k] = placeholderSecret(k);
        }
        let infra: TestInfra | undefined;
        try {
          infra = await createTestInfra({ real: false, service: mod.name });
          const app = await mod.buildApp(loadConfig(mod.schema, env) as never, infra);
          return { app, infra };
        } catch (err) {
          await infra?.close().catch(() => {});
          return { error: `buildApp failed: ${(err as Error).message}` };
        }
      })();
      this.apps.set(mod.name, started);
    }
    return started;
  }

  /** Builds every app (serially: the builds are CPU-bound). */
  async startAll(): Promise<void> {
    for (const mod of this.modules) await this.start(mod);
  }

  async facts(service: string, paths: readonly string[]): Promise<HttpFacts> {
    const mod = this.modules.find((m) => m.name === service);
    const facts: HttpFacts = { status: {}, metrics: { anonymous: 0 }, metricNames: [], durables: [] };
    if (!mod) return { ...facts, error: `no service module ${service}` };
    const { app, error } = await this.start(mod);
    if (!app) return { ...facts, error };
    const get = (url: string, headers?: Record<string, string>) =>
      app.inject({ method: 'GET', url, remoteAddress: REMOTE, headers });
    for (const path of new Set(paths)) facts.status[path] = (await get(path)).statusCode;

    let scrape = await get('/metrics');
    facts.metrics.anonymous = scrape.statusCode;
    if (scrape.statusCode !== 200) {
      for (const k of Object.keys(mod.schema.properties).filter((v) => SECRET_NAME.test(v))) {
        const withToken = await get('/metrics', { authorization: `Bearer ${placeholderSecret(k)}` });
        if (withToken.statusCode === 200) {
          facts.metrics.bearerVariable = k;
          scrape = withToken;
          break;
        }
      }
    }
    if (scrape.statusCode === 200) {
      const parsed = parseMetrics(scrape.body);
      facts.metricNames = parsed.names;
      facts.durables = parsed.durables;
    }
    return facts;
  }

  async close(): Promise<void> {
    for (const started of this.apps.values()) {
      const { app, infra } = await started;
      await app?.close();
      await infra?.close();
    }
    this.apps.clear();
  }
}
