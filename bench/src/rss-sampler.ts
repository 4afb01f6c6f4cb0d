import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** VmRSS and VmHWM (peak RSS as the kernel saw it) in KiB, or undefined once the process is gone. */
export function readMemory(pid: number): { rssKiB: number; hwmKiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds the process has used so far. */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Machine-wide busy and total CPU seconds (all cores), from /proc/stat. */
export function readMachineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = line.reduce((s, v) => s + v, 0);
  const idle = (line[3] ?? 0) + (line[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

export interface ProcessUsage {
  pid: number;
  /** Highest RSS seen (sampled VmRSS and the kernel's VmHWM), MiB. */
  rssPeakMiB: number;
  /** CPU seconds used while tracked. */
  cpuSeconds: number;
}

interface Tracked {
  pid: number;
  peakKiB: number;
  cpuStart: number;
  cpuLast: number;
}

/**
 * Samples RSS peaks per process every `intervalMs` (API, worker, agent, baselines), and CPU
 * seconds used between `track` and `stop`. Cheap: two small /proc reads per process per sample.
 */
export class ProcessSampler {
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 100) {}

  track(label: string, pid: number): void {
    const cpu = readCpuSeconds(pid) ?? 0;
    this.tracked.set(label, { pid, peakKiB: 0, cpuStart: cpu, cpuLast: cpu });
    this.sampleOne(this.tracked.get(label)!);
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Current RSS of a tracked process, MiB. */
  rssMiB(label: string): number {
    const t = this.tracked.get(label);
    const mem = t && readMemory(t.pid);
    return mem ? mem.rssKiB / 1024 : Number.NaN;
  }

  /** CPU seconds used by a tracked process so far. */
  cpuSeconds(label: string): number {
    const t = this.tracked.get(label);
    if (!t) return Number.NaN;
    this.sampleOne(t);
    return t.cpuLast;
  }

  sample(): void {
    for (const t of this.tracked.values()) this.sampleOne(t);
  }

  stop(): Record<string, ProcessUsage> {
    this.sample();
    clearInterval(this.timer);
    this.timer = undefined;
    const out: Record<string, ProcessUsage> = {};
    for (const [label, t] of this.tracked) {
      out[label] = { pid: t.pid, rssPeakMiB: Math.round((t.peakKiB / 1024) * 10) / 10, cpuSeconds: Math.round((t.cpuLast - t.cpuStart) * 100) / 100 };
    }
    return out;
  }

  private sampleOne(t: Tracked): void {
    const mem = readMemory(t.pid);
    if (mem) t.peakKiB = Math.max(t.peakKiB, mem.rssKiB, mem.hwmKiB);
    const cpu = readCpuSeconds(t.pid);
    if (cpu !== undefined) t.cpuLast = cpu;
  }
}

/** Pids of the processes whose command name (/proc/<pid>/comm) is `comm` (e.g. redis-server, postgres). */
export function pidsNamed(comm: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds of a set of processes found by name, between `start()` and `stop()`; processes may come and go. */
export class NamedCpu {
  private readonly start = new Map<number, number>();
  constructor(private readonly comm: string) {
    for (const pid of pidsNamed(comm)) this.start.set(pid, readCpuSeconds(pid) ?? 0);
  }
  stop(): number {
    let total = 0;
    for (const pid of pidsNamed(this.comm)) total += (readCpuSeconds(pid) ?? 0) - (this.start.get(pid) ?? 0);
    return Math.round(total * 100) / 100;
  }
}
