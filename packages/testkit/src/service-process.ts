import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtByDefault, ensureBuilt } from './built-services.ts';
import { MIN_REGISTERED_SECRET, SECRET_ENV, registerSecret, serviceLogDir } from './service-logs.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRY = {
  api: 'services/api/src/main.ts',
  worker: 'services/worker/src/main.ts',
  agent: 'services/agent/src/main.ts',
  all: 'apps/vmo/src/main.ts',
} as const;
export type Role = keyof typeof ENTRY;

export interface ServiceProcessOptions {
  /**
   * Run the built JavaScript (services/<role>/dist, apps/vmo/dist: what `npm run build` writes and
   * production runs), built first when stale (built-services.ts), instead of the sources under
   * tsx. Default: VMO_TEST_BUILT=1. The bench uses it (a process under tsx holds more memory, and
   * fork() costs grow with it); tests stay on tsx by default, which needs no build step.
   */
  built?: boolean;
}

/** A script running many real agents in one process (agent-fleet.ts); spawn it with tsx. */
export const AGENT_FLEET_SCRIPT = fileURLToPath(new URL('./agent-fleet.ts', import.meta.url));

/**
 * A real vmo process (API, worker, agent, or all-in-one) as a child of the test: its output is
 * kept for assertions and for the failure message, and it can be stopped cleanly or killed -9.
 * Everything it prints is also written to the run's log directory (service-logs.ts), which is
 * searched for secrets after the run; the tokens it is given are registered as such secrets.
 */
export class ServiceProcess {
  readonly child: ChildProcess;
  private out = '';
  private readonly watchers = new Set<() => void>();
  /** The file this process's output is written to. */
  readonly logFile: string;
  private readonly log: WriteStream;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly role: Role,
    env: Record<string, string>,
    args: string[] = [],
    { built = builtByDefault() }: ServiceProcessOptions = {},
  ) {
    const entry = built ? [ensureBuilt(role)] : ['--import', 'tsx', ENTRY[role]];
    this.child = spawn(process.execPath, [...entry, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const name of SECRET_ENV) if ((env[name]?.length ?? 0) >= MIN_REGISTERED_SECRET) registerSecret(`${name} of a ${role} process`, env[name]!);
    const tokenArg = args.indexOf('--token');
    if (tokenArg !== -1 && (args[tokenArg + 1]?.length ?? 0) >= MIN_REGISTERED_SECRET) registerSecret(`--token of a ${role} process`, args[tokenArg + 1]!);
    this.logFile = join(serviceLogDir(), `${role}-${this.child.pid ?? 'unstarted'}-${Date.now()}.log`);
    this.log = createWriteStream(this.logFile);
    this.log.on('error', () => {}); // a full disk must not fail the test that started the process
    const collect = (d: Buffer) => {
      this.log.write(d);
      this.out += d.toString();
      if (this.out.length > 4_000_000) this.out = this.out.slice(-2_000_000);
      for (const w of this.watchers) w();
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        // After both pipes are read to the end ('close' follows 'exit'), close the log file.
        this.child.once('close', () => this.log.end());
        resolve({ code, signal });
      }),
    );
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
