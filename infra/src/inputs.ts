/**
 * Reads every deployment artefact the parity checks compare: the rendered
 * Kustomize overlays, the ServiceMonitors, docker-compose.yml with its
 * .env.example, the GitHub workflow, the image's environment, the deployment
 * docs and the observability files. `k8sDir` may point at a mutated copy.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type K8sObject, readYamlObjects, renderOverlay } from './k8s-render';

export interface ComposeService {
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> | string[] } | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string[] | string };
  [k: string]: unknown;
}

export interface InfraInputs {
  /** Overlay name -> rendered objects. */
  overlays: Record<string, K8sObject[]>;
  /** infra/k8s/monitoring/*.yaml (applied separately, with the Prometheus operator). */
  monitoring: K8sObject[];
  compose: { services: Record<string, ComposeService> };
  /** .env.example as `docker compose` would read `.env`. */
  envExample: Record<string, string>;
  /** Services built by the workflow's image matrix (jobs building infra/docker/Dockerfile). */
  workflowImages: string[];
  /** Variables the runtime stage of infra/docker/Dockerfile sets (`ENV`), name -> value as written. */
  imageEnv: Record<string, string>;
  deploymentDoc: string;
  /** Every PromQL expression of the Grafana dashboard. */
  dashboardExprs: string[];
  /** infra/observability/prometheus-scrape.yaml, parsed. */
  scrapeConfig: { scrape_configs?: Record<string, unknown>[] };
}

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out[line.slice(0, eq).trim()] = line
      .slice(eq + 1)
      .trim()
      .replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

/** `ENV` names and values of the Dockerfile's last stage. */
export function parseImageEnv(dockerfile: string): Record<string, string> {
  const joined = dockerfile.replace(/\\\n/g, ' ');
  const stages = joined.split(/^FROM\s/im);
  const last = stages[stages.length - 1] ?? '';
  const env: Record<string, string> = {};
  for (const line of last.split('\n')) {
    const m = /^\s*ENV\s+(.*)$/i.exec(line);
    if (!m) continue;
    for (const pair of m[1].matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
      env[pair[1]] = pair[2].replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

function collectExprs(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collectExprs(n, out);
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'expr' && typeof v === 'string') out.push(v);
      else collectExprs(v, out);
    }
  }
}

function workflowImagesOf(workflow: unknown): string[] {
  const jobs = (workflow as { jobs?: Record<string, Record<string, unknown>> })?.jobs ?? {};
  const out: string[] = [];
  for (const job of Object.values(jobs)) {
    const builds = JSON.stringify(job.steps ?? []).includes('infra/docker/Dockerfile');
    const matrix = (job.strategy as { matrix?: { service?: unknown } } | undefined)?.matrix?.service;
    if (builds && Array.isArray(matrix)) out.push(...matrix.map(String));
  }
  return out;
}

export function loadInfraInputs(root: string, k8sDir = join(root, 'infra', 'k8s')): InfraInputs {
  const read = (rel: string) => readFileSync(join(root, rel), 'utf8');
  const overlaysDir = join(k8sDir, 'overlays');
  const overlays: Record<string, K8sObject[]> = {};
  for (const name of readdirSync(overlaysDir).sort()) {
    if (existsSync(join(overlaysDir, name, 'kustomization.yaml')))
      overlays[name] = renderOverlay(join(overlaysDir, name));
  }
  const monitoringDir = join(k8sDir, 'monitoring');
  const monitoring = existsSync(monitoringDir)
    ? readdirSync(monitoringDir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .flatMap((f) => readYamlObjects(join(monitoringDir, f)))
    : [];
  const dashboardExprs: string[] = [];
  collectExprs(JSON.parse(read('infra/observability/grafana-dashboard.json')), dashboardExprs);
  return {
    overlays,
    monitoring,
    compose: parse(read('docker-compose.yml'), { merge: true }),
    envExample: parseEnvFile(read('.env.example')),
    workflowImages: workflowImagesOf(parse(read('.github/workflows/ci.yml'))),
    imageEnv: parseImageEnv(read('infra/docker/Dockerfile')),
    deploymentDoc: read('docs/deployment.md'),
    dashboardExprs,
    scrapeConfig: parse(read('infra/observability/prometheus-scrape.yaml')) ?? {},
  };
}
