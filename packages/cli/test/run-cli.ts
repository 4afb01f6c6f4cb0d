/**
 * The real `vmo` as a child process, for the CLI's tests: `node packages/cli/bin/vmo.js …` (or the
 * bundle), plainly (stdout and stderr as pipes) or inside a pseudo-terminal (`script`, util-linux).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI_BIN = fileURLToPath(new URL('../bin/vmo.js', import.meta.url));
export const CLI_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

export interface CliOptions {
  /** The environment on top of a clean one (PATH, HOME, TMPDIR only: no VMO_* of the test runner's). */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** `node <script>` instead of the repository's bin (the bundle). */
  script?: string;
  cwd?: string;
  timeoutMs?: number;
}

export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[name] !== undefined) env[name] = process.env[name]!;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Start vmo; `done` resolves with its exit and everything it wrote. */
export function startCli(args: string[], opts: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult>; stdout: () => Buffer; stderr: () => Buffer } {
  const child = spawn(process.execPath, [opts.script ?? CLI_BIN, ...args], { env: baseEnv(opts.env), cwd: opts.cwd ?? CLI_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
  return { child, done, stdout: () => Buffer.concat(out), stderr: () => Buffer.concat(err) };
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).done;
}

const shellQuote = (w: string) => `'${w.replaceAll("'", `'\\''`)}'`;

/**
 * vmo inside a pseudo-terminal: `script -qfec "<cmd>" /dev/null` gives it a terminal for stdin,
 * stdout and stderr (all three the same pty, so `output` is both streams, with \r\n line ends);
 * writing to `write()` is typing (`\x03` is Ctrl-C). The exit status is vmo's (`-e`).
 */
export function startCliInPty(args: string[], opts: { env?: Record<string, string | undefined> } = {}) {
  const cmd = [process.execPath, CLI_BIN, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: baseEnv({ TERM: 'xterm', ...opts.env }), cwd: CLI_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: Buffer.concat(out).toString('utf8') }));
  });
  return { child, done, output: () => Buffer.concat(out).toString('utf8'), write: (text: string) => child.stdin!.write(text) };
}
