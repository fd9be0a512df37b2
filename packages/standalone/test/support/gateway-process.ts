/**
 * The realtime gateway as a child process (its own `src/server.ts`, as in a
 * container), pointed at already running services and sharing their NATS,
 * Redis and prefixes, so a test can `kill -9` it and start it again on the
 * same port. Every process is stopped by its PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const GATEWAY_DIR = fileURLToPath(new URL('../../../../services/realtime-gateway/', import.meta.url));

const URL_VARS: Record<string, string> = {
  auth: 'AUTH_URL',
  conversation: 'CONVERSATION_URL',
  message: 'MESSAGE_URL',
  notification: 'NOTIFICATION_URL',
  history: 'HISTORY_URL',
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export class GatewayProcess {
  private child: ChildProcess | null = null;
  private readonly logs: string[] = [];
  readonly url: string;

  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** The gateway env for `services` (name → URL) plus the shared infrastructure env. */
  static envFor(services: Record<string, string>, shared: Record<string, string>): Record<string, string> {
    const env: Record<string, string> = { ...shared };
    for (const [name, url] of Object.entries(services)) if (URL_VARS[name]) env[URL_VARS[name]] = url;
    return env;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Output of every run so far, for failure messages. */
  output(): string {
    return this.logs.join('').slice(-6000);
  }

  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child) throw new Error('gateway already running');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: GATEWAY_DIR,
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (d) => this.logs.push(String(d)));
    child.stderr?.on('data', (d) => this.logs.push(String(d)));
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`gateway exited (${child.exitCode ?? child.signalCode})\n${this.output()}`);
      }
      try {
        if ((await fetch(`${this.url}/readyz`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`gateway not ready in ${timeoutMs} ms\n${this.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** `kill -9`: no close frames, no drain, the way a crashed process or node disappears. */
  async crash(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM', 10_000);
  }

  private signal(sig: NodeJS.Signals, escalateAfterMs?: number): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      this.child = null;
      return Promise.resolve();
    }
    const pid = child.pid;
    return new Promise((resolve) => {
      const timer =
        escalateAfterMs === undefined
          ? undefined
          : setTimeout(() => {
              try {
                process.kill(pid, 'SIGKILL');
              } catch {
                // exited meanwhile
              }
            }, escalateAfterMs);
      child.once('exit', () => {
        if (timer) clearTimeout(timer);
        this.child = null;
        resolve();
      });
      process.kill(pid, sig);
    });
  }
}
