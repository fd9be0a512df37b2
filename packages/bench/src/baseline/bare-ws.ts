/** Starts and stops the bare-ws ceiling server as a child process (stopped by PID). */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./bare-ws-server.ts', import.meta.url));
const BENCH_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BareWsServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startBareWs(): Promise<BareWsServer> {
  const child: ChildProcess = fork(SERVER, [], {
    cwd: BENCH_ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bare-ws server exited (${code})`)));
    child.once('message', (m: { port: number }) => resolve(m.port));
  });
  return {
    url: `ws://127.0.0.1:${port}/`,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 3000);
      child.send({ cmd: 'exit' });
      await exited;
      clearTimeout(timer);
    },
  };
}
