/**
 * The coordinator's handle on the load-generator processes: forks them
 * (tsx), sends commands, gathers replies, and stops them by PID.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StatsResult, WorkerCommand, WorkerReply } from './protocol';

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));
const BENCH_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export class LoadWorker {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  private constructor(
    readonly index: number,
    readonly child: ChildProcess,
  ) {
    child.on('message', (reply: WorkerReply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (reply.ok) w.resolve(reply.result);
      else w.reject(new Error(`load worker ${index}: ${reply.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`load worker ${index} exited (${code ?? signal})`));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static start(index: number): Promise<LoadWorker> {
    const child = fork(WORKER, [], {
      cwd: BENCH_ROOT,
      execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load worker ${index} exited at start (${code})`));
      child.once('exit', onExit);
      child.once('message', () => {
        child.off('exit', onExit);
        resolve(new LoadWorker(index, child));
      });
    });
  }

  call<T>(command: WorkerCommand): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`load worker ${this.index} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, command });
    });
  }

  async stop(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => {
      if (!this.exited && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
    }, 5000);
    try {
      await this.call({ cmd: 'exit' });
    } catch {
      // already gone
    }
    await exited;
    clearTimeout(timer);
  }
}

export class WorkerPool {
  private constructor(readonly workers: LoadWorker[]) {}

  static async start(count: number): Promise<WorkerPool> {
    const workers = await Promise.all(Array.from({ length: count }, (_, i) => LoadWorker.start(i)));
    return new WorkerPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  /** The same command to every worker. */
  all<T>(command: WorkerCommand): Promise<T[]> {
    return Promise.all(this.workers.map((w) => w.call<T>(command)));
  }

  /** A command per worker, built from its index. */
  each<T>(build: (index: number) => WorkerCommand | null): Promise<(T | null)[]> {
    return Promise.all(
      this.workers.map((w, i) => {
        const c = build(i);
        return c ? w.call<T>(c) : Promise.resolve(null);
      }),
    );
  }

  stats(): Promise<(StatsResult & { orphanErrors: Record<string, number> })[]> {
    return this.all({ cmd: 'stats' });
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
