/**
 * CPU seconds and RSS of processes, read from /proc (Linux), sampled while a
 * scenario runs: Parley's processes, the load generators, the bare-ws server,
 * and the shared servers (postgres, nats-server, redis-server, found by name,
 * only read). Also the whole machine's busy share, to tell a saturated
 * machine from a slow process.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcessRef {
  /** Label in reports, e.g. `parley:gateway`, `loadgen:0`, `postgres`. */
  name: string;
  /** One process, or several summed (postgres backends). */
  pids: () => number[];
}

interface ProcSample {
  cpuSec: number;
  rssKb: number;
}

function readProc(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the `(comm)` (which may contain spaces): state is field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)/.exec(status);
    return { cpuSec: (utime + stime) / TICKS, rssKb: rss ? Number(rss[1]) : 0 };
  } catch {
    return null;
  }
}

/** Peak RSS (VmHWM) of one process, in KiB. */
export function peakRssKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The soft limit of open files of a process (each socket is one), or null when unreadable. */
export function openFilesLimit(pid: number): number | null {
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Current RSS of one process, in KiB. */
export function rssKb(pid: number): number {
  return readProc(pid)?.rssKb ?? 0;
}

/** Pids whose command name is `comm` (read-only scan of /proc). */
export function pidsByName(comm: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface ProcessUsage {
  name: string;
  /** CPU seconds used during the window. */
  cpuSec: number;
  /** Average share of one core during the window, in %. */
  cpuPct: number;
  /** Highest RSS sampled during the window, MiB. */
  peakRssMiB: number;
  /** CPU milliseconds per message of the phase (traffic phases): what one core could sustain is 1000 / this. */
  cpuMsPerMessage?: number;
}

export interface UsageWindow {
  seconds: number;
  /** Whole machine busy share during the window, % of all cores. */
  machineBusyPct: number;
  processes: ProcessUsage[];
}

interface Mark {
  at: number;
  machine: { busy: number; total: number };
  cpu: Map<string, number>;
  peak: Map<string, number>;
}

/** Samples the processes every `intervalMs`; windows report the usage between two marks. */
export class ProcSampler {
  private readonly refs: ProcessRef[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly marks = new Set<Mark>();
  /** CPU seconds of processes that ended, so sums stay monotonic. */
  private readonly lastCpu = new Map<string, Map<number, number>>();

  constructor(private readonly intervalMs = 250) {}

  track(ref: ProcessRef): void {
    this.refs.push(ref);
  }

  untrack(name: string): void {
    const i = this.refs.findIndex((r) => r.name === name);
    if (i >= 0) this.refs.splice(i, 1);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Total CPU seconds and summed RSS of one ref right now. */
  private read(ref: ProcessRef): { cpuSec: number; rssKb: number } {
    let cpuSec = 0;
    let rss = 0;
    const seen = this.lastCpu.get(ref.name) ?? new Map<number, number>();
    this.lastCpu.set(ref.name, seen);
    for (const pid of ref.pids()) {
      const s = readProc(pid);
      if (!s) continue;
      seen.set(pid, s.cpuSec);
      rss += s.rssKb;
    }
    for (const v of seen.values()) cpuSec += v;
    return { cpuSec, rssKb: rss };
  }

  private sample(): void {
    for (const ref of this.refs) {
      const { rssKb } = this.read(ref);
      for (const m of this.marks) m.peak.set(ref.name, Math.max(m.peak.get(ref.name) ?? 0, rssKb));
    }
  }

  mark(): Mark {
    const m: Mark = { at: Date.now(), machine: machineTicks(), cpu: new Map(), peak: new Map() };
    for (const ref of this.refs) {
      const r = this.read(ref);
      m.cpu.set(ref.name, r.cpuSec);
      m.peak.set(ref.name, r.rssKb);
    }
    this.marks.add(m);
    return m;
  }

  /** Usage since `from` (which stops collecting). */
  window(from: Mark): UsageWindow {
    this.sample();
    this.marks.delete(from);
    const seconds = Math.max(0.001, (Date.now() - from.at) / 1000);
    const machine = machineTicks();
    const dTotal = machine.total - from.machine.total;
    const machineBusyPct = dTotal > 0 ? Math.round(((machine.busy - from.machine.busy) / dTotal) * 1000) / 10 : 0;
    const processes: ProcessUsage[] = [];
    for (const ref of this.refs) {
      const start = from.cpu.get(ref.name);
      if (start === undefined) continue;
      const now = this.read(ref).cpuSec;
      const cpuSec = Math.round((now - start) * 100) / 100;
      processes.push({
        name: ref.name,
        cpuSec,
        cpuPct: Math.round((cpuSec / seconds) * 1000) / 10,
        peakRssMiB: Math.round(((from.peak.get(ref.name) ?? 0) / 1024) * 10) / 10,
      });
    }
    return { seconds: Math.round(seconds * 10) / 10, machineBusyPct, processes };
  }
}
