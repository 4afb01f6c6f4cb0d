import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRY = {
  api: 'services/api/src/main.ts',
  worker: 'services/worker/src/main.ts',
  agent: 'services/agent/src/main.ts',
  all: 'services/api/src/main-all.ts',
} as const;
export type Role = keyof typeof ENTRY;

/**
 * A real vmo process (API, worker, agent, or all-in-one) as a child of the test: its output is
 * kept for assertions and for the failure message, and it can be stopped cleanly or killed -9.
 */
export class ServiceProcess {
  readonly child: ChildProcess;
  private out = '';
  private readonly watchers = new Set<() => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly role: Role,
    env: Record<string, string>,
    args: string[] = [],
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', ENTRY[role], ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (d: Buffer) => {
      this.out += d.toString();
      if (this.out.length > 4_000_000) this.out = this.out.slice(-2_000_000);
      for (const w of this.watchers) w();
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get output(): string {
    return this.out;
  }

  /** Resolves with the first match of `pattern` in the output (past or future). */
  waitForOutput(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.out.match(pattern);
        if (m) {
          done();
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.role} (pid ${this.pid}) did not print ${pattern} within ${timeoutMs} ms; output:\n${this.out.slice(-4000)}`));
      }, timeoutMs);
      const onExit = () => {
        done();
        reject(new Error(`${this.role} exited before printing ${pattern}; output:\n${this.out.slice(-4000)}`));
      };
      const done = () => {
        clearTimeout(timer);
        this.watchers.delete(check);
        this.child.off('exit', onExit);
      };
      this.watchers.add(check);
      this.child.once('exit', onExit);
      check();
    });
  }

  /** SIGTERM and wait for the exit. */
  async stop(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  /** kill -9, as a crash would. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
