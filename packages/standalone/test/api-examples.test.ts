/**
 * Runs docs/api-examples.md against a fresh embedded Parley, so the page
 * cannot rot: the `bash` blocks in order as one bash session (each
 * `json output` block compared with what its block printed), the `ts` blocks
 * joined into one program run with tsx (its `text output` compared line by
 * line), and the `text ws` session frame by frame over a real WebSocket with
 * the variables the shell session set.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestParley, type TestParley } from './support/parley';

const PACKAGE_DIR = fileURLToPath(new URL('../', import.meta.url));
const DOC = fileURLToPath(new URL('../../../docs/api-examples.md', import.meta.url));
const WILDCARD = '…';
const require = createRequire(import.meta.url);

interface Block {
  info: string;
  body: string;
}

function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const m of markdown.matchAll(/^```([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm)) {
    blocks.push({ info: m[1]!.trim(), body: m[2]! });
  }
  return blocks;
}

/** The doc's expected value as a matcher: `"…"` is any value, objects list only some fields. */
function shapeOf(expected: unknown): unknown {
  if (expected === WILDCARD) return expect.anything();
  if (Array.isArray(expected)) return expected.map(shapeOf);
  if (expected && typeof expected === 'object') {
    return expect.objectContaining(Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, shapeOf(v)])));
  }
  return expected;
}

function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`${cmd} did not finish in ${opts.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

const blocks = fencedBlocks(readFileSync(DOC, 'utf8'));
let t: TestParley | null = null;
/** Inside the package, so the SDK program resolves `@parley/sdk` and `ws` from it. */
let tmp = '';
/** Shell variables the curl session set, for the WebSocket session. */
const shellVars = new Map<string, string>();

beforeAll(async () => {
  tmp = mkdtempSync(join(PACKAGE_DIR, '.api-examples-'));
  t = await startTestParley('embedded');
}, 240_000);

afterAll(async () => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  await t?.stop();
}, 60_000);

describe('docs/api-examples.md', () => {
  it('has the three kinds of examples', () => {
    expect(blocks.filter((b) => b.info === 'bash').length).toBeGreaterThanOrEqual(6);
    expect(blocks.filter((b) => b.info === 'ts').length).toBeGreaterThanOrEqual(2);
    expect(blocks.filter((b) => b.info === 'text ws')).toHaveLength(1);
  });

  it('curl: every shell block runs, in order, and prints what the doc shows', async () => {
    const wsBlock = blocks.find((b) => b.info === 'text ws')!;
    const wanted = [...new Set([...wsBlock.body.matchAll(/\$([A-Z_]+)/g)].map((m) => m[1]!))];
    const steps: { body: string; expected?: string }[] = [];
    for (const [i, b] of blocks.entries()) {
      if (b.info !== 'bash') continue;
      const next = blocks[i + 1];
      steps.push({ body: b.body, expected: next?.info === 'json output' ? next.body : undefined });
    }
    const tools = await run('bash', ['-c', 'command -v curl && command -v jq && command -v node'], {
      cwd: tmp,
      env: process.env,
      timeoutMs: 10_000,
    });
    expect(tools.code, 'the curl examples need curl, jq and node on PATH').toBe(0);
    const script = [
      'set -euo pipefail',
      ...steps.map((s, i) => `echo '@@step ${i}'\n${s.body}`),
      "echo '@@vars'",
      ...wanted.map((v) => `echo "${v}=\${${v}:-}"`),
    ].join('\n');
    const res = await run('bash', ['-s'], {
      cwd: tmp,
      env: { ...process.env, BASE: t!.parley.url },
      input: script,
      timeoutMs: 60_000,
    });
    expect(res.code, `the shell session failed:\n${res.stdout}\n${res.stderr}`).toBe(0);

    const [stepsOut, varsOut = ''] = res.stdout.split('@@vars\n');
    const outputs = stepsOut!.split(/^@@step \d+\n/m).slice(1);
    expect(outputs).toHaveLength(steps.length);
    for (const [i, step] of steps.entries()) {
      if (step.expected === undefined) continue;
      expect(jsonLines(outputs[i]!), `output of shell block ${i}:\n${step.body}`).toEqual(
        jsonLines(step.expected).map(shapeOf),
      );
    }
    for (const line of varsOut.split('\n').filter(Boolean)) {
      const eq = line.indexOf('=');
      shellVars.set(line.slice(0, eq), line.slice(eq + 1));
    }
    for (const v of wanted) expect(shellVars.get(v), `the shell session sets $${v}`).toBeTruthy();
  }, 90_000);

  it('SDK: the TypeScript blocks run as one program and print what the doc shows', async () => {
    const program = blocks
      .filter((b) => b.info === 'ts')
      .map((b) => b.body)
      .join('\n');
    const expected = blocks.find((b) => b.info === 'text output')!.body;
    const file = join(tmp, 'chat.ts');
    writeFileSync(file, program);
    const res = await run(process.execPath, ['--import', 'tsx', file], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, PARLEY_URL: t!.parley.url },
      timeoutMs: 60_000,
    });
    expect(res.code, `the SDK program failed:\n${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout.trim().split('\n')).toEqual(expected.trim().split('\n'));

    // tsx does not type-check: the doc's TypeScript must also compile (strict).
    writeFileSync(
      join(tmp, 'tsconfig.json'),
      JSON.stringify({
        extends: '../tsconfig.json',
        compilerOptions: { lib: ['ES2023', 'DOM'] },
        include: ['chat.ts'],
      }),
    );
    const tsc = await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(tmp, 'tsconfig.json')], {
      cwd: PACKAGE_DIR,
      env: process.env,
      timeoutMs: 60_000,
    });
    expect(tsc.code, `the SDK program does not type-check:\n${tsc.stdout}${tsc.stderr}`).toBe(0);
  }, 150_000);

  it('WebSocket: the raw session gets the frames the doc shows', async () => {
    expect(shellVars.size, 'runs after the curl session').toBeGreaterThan(0);
    const substitute = (line: string) => line.replace(/\$([A-Z_]+)/g, (_m, name: string) => shellVars.get(name) ?? '');
    const lines = blocks
      .find((b) => b.info === 'text ws')!
      .body.split('\n')
      .filter((l) => l.trim());

    const ws = new WebSocket(`${t!.parley.url.replace(/^http/, 'ws')}/v1/ws`);
    const inbox: Record<string, unknown>[] = [];
    ws.on('message', (data) => inbox.push(JSON.parse(String(data))));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      for (const line of lines) {
        const [dir, ...rest] = line.split(' ');
        const json = substitute(rest.join(' '));
        if (dir === '>') {
          ws.send(json);
          continue;
        }
        expect(dir).toBe('<');
        const shape = shapeOf(JSON.parse(json));
        const deadline = Date.now() + 10_000;
        for (;;) {
          const idx = inbox.findIndex((f) => {
            try {
              expect(f).toEqual(shape);
              return true;
            } catch {
              return false;
            }
          });
          if (idx >= 0) {
            inbox.splice(idx, 1);
            break;
          }
          if (Date.now() > deadline) {
            throw new Error(`no frame like ${line}\nreceived: ${JSON.stringify(inbox, null, 1).slice(0, 3000)}`);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    } finally {
      ws.close();
    }
  }, 60_000);
});
