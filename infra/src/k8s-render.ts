/**
 * Renders Kustomize overlays the way `kubectl apply -k` would, without a
 * cluster: `kubectl kustomize` (kustomize v5 is built into kubectl) prints
 * the objects, which are parsed here. KUBECTL names another binary.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as rendered (plain data, not yet validated). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are arbitrary YAML; checks narrow them field by field
  spec?: any;
  data?: Record<string, string>;
  [k: string]: unknown;
}

/** Parses a multi-document YAML stream; throws on a syntax error (naming the source). */
export function parseYamlObjects(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${source}: a document is not an object`);
    out.push(value as K8sObject);
  }
  return out;
}

export function readYamlObjects(file: string): K8sObject[] {
  return parseYamlObjects(readFileSync(file, 'utf8'), file);
}

/** `kubectl kustomize <dir>`, parsed. Throws with kubectl's message when it fails or is missing. */
export function renderOverlay(dir: string): K8sObject[] {
  const kubectl = process.env.KUBECTL || 'kubectl';
  let out: string;
  try {
    out = execFileSync(kubectl, ['kustomize', dir], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') {
      throw new Error(`${kubectl} not found: the infra tests render overlays with \`kubectl kustomize\` (see .ci/run)`);
    }
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr?.trim() || e.message}`);
  }
  return parseYamlObjects(out, `kubectl kustomize ${dir}`);
}
