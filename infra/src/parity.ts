/**
 * Parity between the services (their code, as `service-facts` learned it)
 * and every way of deploying them: each Kustomize overlay, the
 * ServiceMonitors, docker-compose.yml, the image workflow, the dashboard and
 * the docs. `checkParity` is pure: it returns one line per problem, so tests
 * can run it on mutated copies and see it bite.
 */
import { STREAMS } from '@parley/contracts';
import { ConfigError, loadConfig, natsStreamName } from '@parley/service-kit';
import type { ComposeService, InfraInputs } from './inputs';
import type { K8sObject } from './k8s-render';
import {
  cliFlagsOf,
  type EnvRules,
  envRulesOf,
  type HttpFacts,
  placeholderSecret,
  type ServiceHarness,
  type ServiceModule,
} from './service-facts';

export interface ServiceFacts {
  module: Pick<ServiceModule, 'name' | 'configExport' | 'schema' | 'usesDatabase'>;
  rules: EnvRules;
  http: HttpFacts;
  /** Command-line flags the service's code handles (`cliFlagsOf`). */
  cliFlags: string[];
}

export interface ParityInput extends InfraInputs {
  services: ServiceFacts[];
}

/** Variables the image sets for the platform, not read through a config schema. */
const PLATFORM_ENV = new Set(['NODE_ENV']);
const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
/** The probe each kind must use: liveness on /healthz (process alive), readiness on /readyz (dependencies reachable). */
const PROBE_PATHS: Partial<Record<(typeof PROBES)[number], string>> = {
  livenessProbe: '/healthz',
  readinessProbe: '/readyz',
};

// ---- Kubernetes helpers --------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: container specs are rendered YAML, narrowed where read
type Container = any;

export interface EnvEntry {
  source: 'configmap' | 'value' | 'secret' | 'field';
  /** The value (ConfigMap or literal), or a placeholder for a Secret. */
  value: string;
  /** Where it comes from, e.g. `ConfigMap/parley-common` or `Secret/parley-redis:url`. */
  from: string;
  secretRef?: { name: string; key: string };
}

const byKind = (objects: readonly K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const find = (objects: readonly K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata?.name === name);

/** The environment a container gets: ConfigMaps in `envFrom`, then `env` (later wins, as in Kubernetes). */
export function containerEnv(
  container: Container,
  objects: readonly K8sObject[],
): { env: Map<string, EnvEntry>; problems: string[] } {
  const env = new Map<string, EnvEntry>();
  const problems: string[] = [];
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef;
    if (!ref) continue;
    const cm = find(objects, 'ConfigMap', ref.name);
    if (!cm) {
      if (!ref.optional) problems.push(`envFrom names ConfigMap/${ref.name}, which is not rendered`);
      continue;
    }
    for (const [k, v] of Object.entries(cm.data ?? {})) {
      env.set(`${from.prefix ?? ''}${k}`, { source: 'configmap', value: String(v), from: `ConfigMap/${ref.name}` });
    }
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      env.set(e.name, {
        source: 'secret',
        value: placeholderSecret(e.name),
        from: `Secret/${name}:${key}`,
        secretRef: { name, key },
      });
    } else if (e.valueFrom?.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const value = find(objects, 'ConfigMap', name)?.data?.[key];
      if (value === undefined) problems.push(`${e.name} refers to ConfigMap/${name} key ${key}, which is not rendered`);
      env.set(e.name, { source: 'configmap', value: String(value ?? ''), from: `ConfigMap/${name}:${key}` });
    } else if (e.valueFrom) {
      env.set(e.name, { source: 'field', value: 'field', from: 'downward API' });
    } else {
      env.set(e.name, { source: 'value', value: String(e.value ?? ''), from: 'the Deployment' });
    }
  }
  return { env, problems };
}

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

function configProblem(schema: ServiceFacts['module']['schema'], env: Record<string, string>): string | undefined {
  try {
    loadConfig(schema, env);
    return undefined;
  } catch (err) {
    return err instanceof ConfigError ? err.message : String(err);
  }
}

// ---- compose helpers --------------------------------------------------------------

/** Compose interpolation of one value (`${X}`, `${X:-d}`, `${X-d}`, `${X:?e}`, `${X?e}`, `$X`) against `.env`. */
export function interpolate(value: string, dotenv: Record<string, string>): { value: string; missing: string[] } {
  const missing: string[] = [];
  const out = value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_m, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare) as string;
      const v = dotenv[name];
      const unset = v === undefined || (op?.startsWith(':') === true && v === '');
      if (op?.endsWith('-')) return unset ? (arg ?? '') : v;
      if (unset) missing.push(name);
      return v ?? '';
    },
  );
  return { value: out, missing };
}

/** Variable names `${...}`/`$X` refers to in a compose value. */
export function referencedVariables(value: string): string[] {
  return [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] ?? m[2]);
}

function composeEnv(svc: ComposeService): Record<string, string> {
  const env: Record<string, string> = {};
  if (Array.isArray(svc.environment)) {
    for (const item of svc.environment) {
      const eq = item.indexOf('=');
      env[eq < 0 ? item : item.slice(0, eq)] = eq < 0 ? '' : item.slice(eq + 1);
    }
  } else {
    for (const [k, v] of Object.entries(svc.environment ?? {})) env[k] = v === null ? '' : String(v);
  }
  return env;
}

function composeBuildService(svc: ComposeService): string | undefined {
  if (!svc.build || typeof svc.build === 'string') return undefined;
  const args = svc.build.args;
  if (Array.isArray(args)) return args.find((a) => a.startsWith('SERVICE='))?.slice('SERVICE='.length);
  return args?.SERVICE;
}

// ---- PromQL -------------------------------------------------------------------------

const PROMQL_WORDS = new Set(
  (
    'sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring ' +
    'group_left group_right bool and or unless offset rate irate increase delta idelta deriv histogram_quantile ' +
    'abs ceil floor round clamp clamp_min clamp_max exp ln log2 log10 sqrt time vector scalar sort sort_desc ' +
    'label_replace label_join absent absent_over_time changes resets predict_linear avg_over_time ' +
    'min_over_time max_over_time sum_over_time count_over_time quantile_over_time last_over_time inf nan'
  ).split(' '),
);

/** Metric names a PromQL expression reads. */
export function metricsOfExpr(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const before = stripped[(m.index ?? 0) - 1];
    if (before && /[0-9.]/.test(before)) continue; // a number's exponent or unit
    if (!PROMQL_WORDS.has(m[0])) names.add(m[0]);
  }
  return [...names];
}

const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

// ---- the checks -----------------------------------------------------------------------

export function checkParity(input: ParityInput): string[] {
  const problems: string[] = [];
  const names = new Set(input.services.map((s) => s.module.name));
  const allMetrics = new Set(input.services.flatMap((s) => s.http.metricNames));
  const composeServices = Object.entries(input.compose?.services ?? {});
  const secretNames = new Set<string>();

  for (const s of input.services) {
    const name = s.module.name;
    const say = (where: string, what: string) => problems.push(`${where}: ${name}: ${what}`);
    if (s.http.error) say('service', s.http.error);

    // ---- images --------------------------------------------------------------------------
    if (!input.workflowImages.includes(name)) say('ci.yml', 'no image build in the workflow matrix');
    const composeEntry = composeServices.find(([, svc]) => composeBuildService(svc) === name);
    if (!composeEntry) say('docker-compose.yml', 'no service builds its image (build.args.SERVICE)');

    // ---- Kubernetes, per overlay ----------------------------------------------------------
    const k8sNamesByOverlay: Record<string, Set<string>> = {};
    for (const [overlay, objects] of Object.entries(input.overlays)) {
      const where = `overlay ${overlay}`;
      const dep = find(objects, 'Deployment', name);
      if (!dep) {
        say(where, 'no Deployment');
        continue;
      }
      const podSpec = dep.spec?.template?.spec ?? {};
      const podLabels = dep.spec?.template?.metadata?.labels as Record<string, string> | undefined;
      const containers: Container[] = podSpec.containers ?? [];
      const main = containers.find((c) => c.name === name);
      if (!main) {
        say(where, `Deployment has no container named ${name}`);
        continue;
      }

      // image
      const image = String(main.image ?? '');
      if (!new RegExp(`(^|/)${name}(:|@|$)`).test(image))
        say(where, `container image ${image} is not the ${name} image`);
      if (!image.includes('@') && (!/:[^/]+$/.test(image) || image.endsWith(':latest'))) {
        say(where, `container image ${image} is not pinned to a tag`);
      }

      // environment
      const { env, problems: envProblems } = containerEnv(main, objects);
      for (const p of envProblems) say(where, p);
      k8sNamesByOverlay[overlay] = new Set(env.keys());
      for (const [k, why] of Object.entries(s.rules.cluster)) {
        if (!env.has(k)) say(where, `no ConfigMap or Secret reference sets ${k} (${why})`);
      }
      for (const from of main.envFrom ?? []) {
        const cm = from.configMapRef && find(objects, 'ConfigMap', from.configMapRef.name);
        for (const k of Object.keys(cm?.data ?? {})) {
          if (s.rules.secret.includes(k)) say(where, `ConfigMap/${cm?.metadata.name} holds the secret ${k}`);
        }
      }
      for (const [k, e] of env) {
        if (e.secretRef) secretNames.add(e.secretRef.name);
        if (s.rules.secret.includes(k) && e.source !== 'secret') {
          say(where, `${k} is a secret but comes from ${e.from}; use a secretKeyRef`);
        }
        if (!s.rules.known.includes(k) && !PLATFORM_ENV.has(k)) {
          say(where, `sets ${k} (from ${e.from}), which ${s.module.configExport} does not read`);
        }
      }
      const values = Object.fromEntries([...env].map(([k, e]) => [k, e.value]));
      const invalid = configProblem(s.module.schema, values);
      if (invalid) say(where, `its environment fails ${s.module.configExport}: ${invalid}`);
      const port = Number(values.PORT ?? s.rules.defaultPort);

      // init containers running the service image (migrations): same environment, a flag the code handles
      for (const init of podSpec.initContainers ?? []) {
        if (init.image !== main.image) continue;
        const initNames = [...containerEnv(init, objects).env.keys()].sort().join(',');
        if (initNames !== [...env.keys()].sort().join(',')) {
          say(where, `init container ${init.name} gets other variables than the service container`);
        }
        for (const arg of [...(init.args ?? []), ...(init.command ?? [])].map(String)) {
          if (arg.startsWith('--') && !s.cliFlags.includes(arg)) {
            say(where, `init container ${init.name} passes ${arg}, which the service's code does not handle`);
          }
        }
      }

      // ports and probes
      const http = (main.ports ?? []).find((p: Container) => p.name === 'http');
      if (!http) say(where, 'container has no port named http');
      else if (http.containerPort !== port) say(where, `container port http is ${http.containerPort}, PORT is ${port}`);
      for (const kind of PROBES) {
        const probe = main[kind];
        const wanted = PROBE_PATHS[kind];
        if (!probe) {
          if (wanted) say(where, `no ${kind} (expected GET ${wanted})`);
          continue;
        }
        const get = probe.httpGet;
        if (!get) {
          say(where, `${kind} is not an HTTP GET${wanted ? ` of ${wanted}` : ''}`);
          continue;
        }
        if (wanted && get.path !== wanted) say(where, `${kind} GETs ${get.path}, expected ${wanted}`);
        if (get.port !== 'http' && get.port !== port) say(where, `${kind} targets port ${get.port}, not http/${port}`);
        const status = s.http.status[get.path];
        if (status !== 200)
          say(where, `${kind} path ${get.path} is not served by the service (answers ${status ?? '?'})`);
      }
      const scrapePort = dep.spec?.template?.metadata?.annotations?.['prometheus.io/port'];
      if (scrapePort !== undefined && Number(scrapePort) !== port) {
        say(where, `prometheus.io/port annotation is ${scrapePort}, but /metrics is served on ${port}`);
      }

      // metrics access
      if (s.http.metrics.anonymous !== 200) {
        const v = s.http.metrics.bearerVariable;
        if (!v) {
          say(where, `/metrics refuses non-loopback scrapes (answers ${s.http.metrics.anonymous}) and takes no token`);
        } else if (env.get(v)?.source !== 'secret') {
          say(where, `/metrics needs a bearer token from ${v}, which no Secret reference sets`);
        } else {
          const ref = env.get(v)?.secretRef;
          const monitors = byKind(input.monitoring, 'ServiceMonitor').filter((m) =>
            selects(m.spec?.selector?.matchLabels, podLabels),
          );
          for (const m of monitors) {
            for (const ep of m.spec?.endpoints ?? []) {
              const cred = ep.authorization?.credentials ?? ep.bearerTokenSecret;
              if (cred?.name !== ref?.name || cred?.key !== ref?.key) {
                say(
                  where,
                  `ServiceMonitor/${m.metadata.name} scrapes without the ${v} token (Secret/${ref?.name}:${ref?.key})`,
                );
              }
            }
          }
        }
      }

      // Service
      const services = byKind(objects, 'Service').filter((svc) => selects(svc.spec?.selector, podLabels));
      if (!find(objects, 'Service', name)) say(where, 'no Service');
      if (services.length === 0) say(where, 'no Service selects its pods');
      for (const svc of services) {
        const ok = (svc.spec?.ports ?? []).some((p: Container) => p.targetPort === 'http' || p.targetPort === port);
        if (!ok) say(where, `Service/${svc.metadata.name} has no port targeting http/${port}`);
      }

      // scaling and disruption
      const hpas = byKind(objects, 'HorizontalPodAutoscaler').filter(
        (h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec?.scaleTargetRef?.name === name,
      );
      const scaledObjects = byKind(objects, 'ScaledObject').filter((o) => o.spec?.scaleTargetRef?.name === name);
      if (hpas.length + scaledObjects.length === 0) say(where, 'no HorizontalPodAutoscaler or ScaledObject');
      if (hpas.length + scaledObjects.length > 1) say(where, 'more than one autoscaler targets the Deployment');
      for (const h of hpas) {
        for (const m of h.spec?.metrics ?? []) {
          const metric = m.pods?.metric?.name ?? m.object?.metric?.name;
          if (metric && !s.http.metricNames.includes(metric)) {
            say(where, `HorizontalPodAutoscaler scales on ${metric}, which the service does not export`);
          }
        }
      }
      const streams = Object.values(STREAMS).map((st) => natsStreamName(values.BUS_PREFIX ?? 'parley', st.name));
      for (const o of scaledObjects) {
        for (const t of o.spec?.triggers ?? []) {
          if (t.type !== 'nats-jetstream') continue;
          if (!s.http.durables.includes(t.metadata?.consumer)) {
            say(where, `ScaledObject reads lag of consumer ${t.metadata?.consumer}, which the service does not run`);
          }
          if (!streams.includes(t.metadata?.stream)) {
            say(where, `ScaledObject reads stream ${t.metadata?.stream}, not one of ${streams.join(', ')}`);
          }
        }
      }
      if (!byKind(objects, 'PodDisruptionBudget').some((p) => selects(p.spec?.selector?.matchLabels, podLabels))) {
        say(where, 'no PodDisruptionBudget');
      }
    }

    // ---- ServiceMonitor ----------------------------------------------------------------------
    const monitors = byKind(input.monitoring, 'ServiceMonitor').filter((m) =>
      selects(m.spec?.selector?.matchLabels, { 'app.kubernetes.io/name': name }),
    );
    if (monitors.length !== 1) say('monitoring', `${monitors.length} ServiceMonitors select it (expected 1)`);
    for (const m of monitors) {
      for (const ep of m.spec?.endpoints ?? []) {
        if (ep.path !== '/metrics') say('monitoring', `ServiceMonitor/${m.metadata.name} scrapes ${ep.path}`);
        const cred = ep.authorization?.credentials ?? ep.bearerTokenSecret;
        if (cred?.name) secretNames.add(cred.name);
        for (const [overlay, objects] of Object.entries(input.overlays)) {
          const svc = find(objects, 'Service', name);
          if (svc && !(svc.spec?.ports ?? []).some((p: Container) => p.name === ep.port)) {
            say('monitoring', `ServiceMonitor/${m.metadata.name} scrapes port ${ep.port}, absent from ${overlay}`);
          }
        }
      }
    }

    // ---- docker compose --------------------------------------------------------------------------
    if (composeEntry) {
      const [composeName, svc] = composeEntry;
      const where = `docker-compose.yml ${composeName}`;
      const raw = composeEnv(svc);
      const values: Record<string, string> = {};
      for (const [k, v] of Object.entries(input.imageEnv)) if (!v.includes('$')) values[k] = v;
      for (const [k, v] of Object.entries(raw)) {
        const { value, missing } = interpolate(v, input.envExample);
        for (const m of missing) say(where, `${k} uses \${${m}}, which .env.example does not set`);
        values[k] = value;
      }
      for (const v of Object.values(raw).flatMap(referencedVariables)) {
        if (!(v in input.envExample))
          say('.env.example', `does not document ${v}, which docker-compose.yml ${composeName} uses`);
      }
      const composeNames = new Set([...Object.keys(raw), ...Object.keys(input.imageEnv)]);
      for (const [k, why] of Object.entries(s.rules.cluster)) {
        if (!composeNames.has(k)) say(where, `does not set ${k} (${why})`);
      }
      for (const k of Object.keys(raw)) {
        if (!s.rules.known.includes(k) && !PLATFORM_ENV.has(k)) {
          say(where, `sets ${k}, which ${s.module.configExport} does not read`);
        }
      }
      const invalid = configProblem(s.module.schema, values);
      if (invalid) say(where, `its environment fails ${s.module.configExport}: ${invalid}`);
      for (const [overlay, k8sNames] of Object.entries(k8sNamesByOverlay)) {
        const withImage = new Set([...k8sNames, ...Object.keys(input.imageEnv)]);
        for (const k of composeNames) if (!withImage.has(k)) say(where, `sets ${k}, overlay ${overlay} does not`);
        for (const k of withImage) if (!composeNames.has(k)) say(where, `does not set ${k}, overlay ${overlay} does`);
      }
      const test = svc.healthcheck?.test;
      const line = Array.isArray(test) ? test.join(' ') : (test ?? '');
      const url = /https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)(\/[^\s"']*)/.exec(line);
      if (!url) say(where, 'no HTTP healthcheck');
      else {
        if (Number(url[1]) !== Number(values.PORT ?? s.rules.defaultPort)) {
          say(where, `healthcheck asks port ${url[1]}, PORT is ${values.PORT ?? s.rules.defaultPort}`);
        }
        if (s.http.status[url[2]] !== 200) {
          say(where, `healthcheck path ${url[2]} is not served (answers ${s.http.status[url[2]] ?? '?'})`);
        }
      }
    }
  }

  // ---- objects without a service ----------------------------------------------------------------
  for (const [overlay, objects] of Object.entries(input.overlays)) {
    for (const dep of byKind(objects, 'Deployment')) {
      if (!names.has(dep.metadata.name)) {
        problems.push(`overlay ${overlay}: Deployment/${dep.metadata.name} has no services/${dep.metadata.name}`);
      }
    }
  }
  for (const image of input.workflowImages) {
    if (!names.has(image)) problems.push(`ci.yml: builds an image for ${image}, which has no services/${image}`);
  }

  // ---- docs and dashboards ---------------------------------------------------------------------
  for (const secret of secretNames) {
    if (!input.deploymentDoc.includes(secret)) {
      problems.push(`docs/deployment.md: does not list the Secret ${secret} the manifests read`);
    }
  }
  for (const expr of input.dashboardExprs) {
    for (const metric of metricsOfExpr(expr)) {
      if (!allMetrics.has(metric) && !allMetrics.has(metric.replace(HISTOGRAM_SUFFIX, ''))) {
        problems.push(`grafana-dashboard.json: ${metric} is exported by no service (in ${expr})`);
      }
    }
  }
  const bearerServices = input.services.filter((s) => s.http.metrics.anonymous !== 200).map((s) => s.module.name);
  for (const name of bearerServices) {
    const job = (input.scrapeConfig.scrape_configs ?? []).find(
      (j) => JSON.stringify(j.relabel_configs ?? []).includes(name) && j.authorization,
    );
    if (!job) problems.push(`prometheus-scrape.yaml: no job scrapes ${name} with its bearer token`);
  }
  return problems;
}

/** Paths the manifests and compose ask of a service (probes, healthchecks), plus the two every service must serve. */
export function pathsAskedOf(inputs: InfraInputs, service: string): string[] {
  const paths = new Set(['/healthz', '/readyz']);
  for (const objects of Object.values(inputs.overlays)) {
    const dep = find(objects, 'Deployment', service);
    for (const c of dep?.spec?.template?.spec?.containers ?? []) {
      for (const kind of PROBES) if (c[kind]?.httpGet?.path) paths.add(c[kind].httpGet.path);
    }
  }
  for (const svc of Object.values(inputs.compose?.services ?? {})) {
    if (composeBuildService(svc) !== service) continue;
    const test = svc.healthcheck?.test;
    const line = Array.isArray(test) ? test.join(' ') : (test ?? '');
    const url = /https?:\/\/[^/\s]+(\/[^\s"']*)/.exec(line);
    if (url) paths.add(url[1]);
  }
  return [...paths];
}

/** Asks the harness (apps already built are reused) what each service answers to what the inputs ask. */
export async function gatherServiceFacts(
  root: string,
  harness: ServiceHarness,
  modules: readonly ServiceModule[],
  inputs: InfraInputs,
): Promise<ServiceFacts[]> {
  const out: ServiceFacts[] = [];
  for (const module of modules) {
    out.push({
      module,
      rules: envRulesOf(module.schema, { usesDatabase: module.usesDatabase }),
      http: await harness.facts(module.name, pathsAskedOf(inputs, module.name)),
      cliFlags: cliFlagsOf(root, module.name),
    });
  }
  return out;
}
