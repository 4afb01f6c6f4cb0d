import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { registerCleanup } from './interrupt-cleanup.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type BenchEvent = { event: string; [k: string]: unknown };

/**
 * A load generator or a bare baseline server, as a separate process (`bench/src/<script>.ts`),
 * so its CPU is not the measured process's. It speaks JSON lines on stdout (load/emit.ts);
 * it is SIGKILLed at its deadline if it has not left by then.
 */
export class LoadProcess {
  readonly child: ChildProcess;
  private readonly events: BenchEvent[] = [];
  private readonly watchers = new Set<() => void>();
  private stderr = '';
  private readonly killTimer: NodeJS.Timeout;
  readonly exited: Promise<number | null>;

  constructor(
    readonly script: string,
    args: unknown,
    opts: { timeoutMs: number; env?: Record<string, string> },
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', `bench/src/${script}.ts`, JSON.stringify(args)], {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      try {
        this.events.push(JSON.parse(line) as BenchEvent);
      } catch {
        return;
      }
      for (const w of this.watchers) w();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-6000);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.killTimer = setTimeout(() => this.child.kill('SIGKILL'), opts.timeoutMs);
    const unregister = registerCleanup(() => void this.child.kill('SIGKILL'));
    void this.exited.then(() => {
      unregister();
      clearTimeout(this.killTimer);
      for (const w of this.watchers) w();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first `event` line with this name (past or future); rejects on an `error` event or an exit before it. */
  waitFor<T = BenchEvent>(event: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.events.find((e) => e.event === event);
        if (hit) {
          this.watchers.delete(check);
          return resolve(hit as T);
        }
        const failed = this.events.find((e) => e.event === 'error');
        const gone = this.child.exitCode !== null || this.child.signalCode !== null;
        if (failed || gone) {
          this.watchers.delete(check);
          reject(new Error(`${this.script} (pid ${this.pid}) ${failed ? `failed: ${String(failed.message)}` : `exited (${this.child.exitCode ?? this.child.signalCode})`} before "${event}"; stderr:\n${this.stderr}`));
        }
      };
      this.watchers.add(check);
      check();
    });
  }

  /** The latest `event` line with this name so far (progress reports), if any. */
  last<T = BenchEvent>(event: string): T | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i]!.event === event) return this.events[i] as T;
    return undefined;
  }

    result<T = BenchEvent>(): Promise<T> {
    return this.waitFor<T>('result');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
