/** Shared setup of the infra tests: the repository root and a copy of infra/k8s to mutate. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const K8S_DIR = join(ROOT, 'infra', 'k8s');

/** A temporary copy of infra/k8s; `remove()` deletes it. */
export function copyK8s(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'parley-k8s-'));
  cpSync(K8S_DIR, dir, { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Rewrites one YAML file of a copy through `edit` (which mutates the parsed document). */
export function editYaml(file: string, edit: (doc: Record<string, unknown>) => void): void {
  const text = readFileSync(file, 'utf8');
  const doc = parse(text) as Record<string, unknown>;
  edit(doc);
  writeFileSync(file, stringify(doc));
}

/** Rewrites a multi-document YAML file of a copy through `edit` (which mutates the parsed documents). */
export function editYamlDocuments(file: string, edit: (docs: Record<string, unknown>[]) => void): void {
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
  edit(docs);
  writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
}
