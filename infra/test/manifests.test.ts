/**
 * Every overlay renders with `kubectl kustomize` and every object validates
 * against the Kubernetes schemas of the npm packages; the committed base is
 * exactly what generate.mjs writes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type K8sObject, readYamlObjects, renderOverlay } from '../src/k8s-render';
import { validateObjects } from '../src/k8s-validate';
import { K8S_DIR } from './support';

const overlays = readdirSync(join(K8S_DIR, 'overlays')).sort();

describe.each(overlays)('overlay %s', (overlay) => {
  const objects = renderOverlay(join(K8S_DIR, 'overlays', overlay));

  it('renders the objects of every service into its own namespace', () => {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'Deployment',
      'Service',
      'ServiceAccount',
      'ConfigMap',
      'PodDisruptionBudget',
      'NetworkPolicy',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
    const namespace = objects.find((o) => o.kind === 'Namespace')?.metadata.name;
    expect(namespace).toBeTruthy();
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(namespace);
    }
  });

  it('validates every object against its Kubernetes schema', () => {
    expect(validateObjects(objects)).toEqual([]);
  });
});

describe('monitoring', () => {
  it('validates the ServiceMonitors against the Prometheus-operator schema', () => {
    const files = readdirSync(join(K8S_DIR, 'monitoring')).filter((f) => f.endsWith('.yaml'));
    const objects = files.flatMap((f) => readYamlObjects(join(K8S_DIR, 'monitoring', f)));
    expect(objects.length).toBeGreaterThan(0);
    expect(objects.every((o) => o.kind === 'ServiceMonitor')).toBe(true);
    expect(validateObjects(objects)).toEqual([]);
  });
});

describe('schema validation', () => {
  const deployment: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x' },
    spec: {
      selector: { matchLabels: { app: 'x' } },
      template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'x', image: 'x:1' }] } },
    },
  };

  it('accepts a valid object', () => {
    expect(validateObjects([deployment])).toEqual([]);
  });

  it('reports a wrongly typed field', () => {
    const bad = structuredClone(deployment);
    bad.spec.template.spec.containers[0].ports = [{ containerPort: '3000' }];
    expect(validateObjects([bad]).join('\n')).toMatch(/Deployment\/x: .*containerPort must be integer/);
  });

  it('reports a missing required field of a custom resource', () => {
    const scaled = { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 's' }, spec: {} };
    expect(validateObjects([scaled]).join('\n')).toMatch(/ScaledObject\/s: .*scaleTargetRef/);
  });

  it('reports a kind it has no schema for', () => {
    const unknown = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect(validateObjects([unknown])).toEqual(['Widget/w: no schema for example.com/v1/Widget (unknown kind)']);
  });
});

describe('generate.mjs', { timeout: 60_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'parley-generate-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  const filesUnder = (dir: string) =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => relative(dir, join(f.parentPath, f.name)))
      .sort();

  it('writes exactly the committed base and ServiceMonitors', () => {
    execFileSync(process.execPath, [join(K8S_DIR, 'generate.mjs'), out], { stdio: 'pipe' });
    for (const part of ['base', 'monitoring']) {
      const generated = filesUnder(join(out, part));
      expect(filesUnder(join(K8S_DIR, part)), part).toEqual(generated);
      for (const file of generated) {
        expect(
          readFileSync(join(K8S_DIR, part, file), 'utf8'),
          `${part}/${file} differs: run node infra/k8s/generate.mjs`,
        ).toBe(readFileSync(join(out, part, file), 'utf8'));
      }
    }
  });
});
