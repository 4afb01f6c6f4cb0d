/**
 * The real `vmo` as a child process, for the CLI's tests: `node packages/cli/bin/vmo.js …` (or the
 * bundle), plainly (stdout and stderr as pipes) or inside a pseudo-terminal (`script`, util-linux).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_BIN = fileURLToPath(new URL('../bin/vmo.js', import.meta.url));
export const CLI_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * What runCli() starts when not told: the repository's bin (the sources through tsx), or, after
 * useBundle(), a bundle of the same sources. tsx loads the client's few hundred modules one by
 * one (over a second of CPU per start); the bundle starts in a fraction of that, which keeps a
 * file that runs vmo twenty times fast. Each file still runs the bin itself where it matters.
 */
let defaultScript = CLI_BIN;

/** Bundle the current sources (as `npm run build` does) into a temporary file, and run that from now on. */
export async function useBundle(): Promise<string> {
  const { buildBundle } = (await import(new URL('../build.mjs', import.meta.url).href)) as { buildBundle(outfile: string): Promise<unknown> };
  const outfile = join(mkdtempSync(join(tmpdir(), 'vmo-cli-bundle-')), 'vmo.mjs');
  await buildBundle(outfile);
  defaultScript = outfile;
  return outfile;
}

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
  /** `node <script>` instead of the default (CLI_BIN to force the repository's bin). */
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
  const child = spawn(process.execPath, [opts.script ?? defaultScript, ...args], { env: baseEnv(opts.env), cwd: opts.cwd ?? CLI_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
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
 * writing to `write()` is typing (`\x03` is Ctrl-C). The exit status is vmo's (`-e`; vmo is exec'd, not
 * a child of the shell).
 */
export function startCliInPty(args: string[], opts: { env?: Record<string, string | undefined>; script?: string } = {}) {
  // LOUD: `exec`, so vmo replaces script's `sh -c`: else Ctrl-C kills that shell (dash dies of SIGINT
  // at once) and script reports 130 whatever vmo's own exit status is.
  const cmd = `exec ${[process.execPath, opts.script ?? defaultScript, ...args].map(shellQuote).join(' ')}`;
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

/**
 * An agent for a test system, like TestSystem.startAgent but with a deadline for coming online
 * that a loaded machine meets (the agent process starts through tsx too).
 */
export async function startAgent(system: { client: { request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> }; spawnAgent(token: string): unknown; waitForAgentStatus(id: string, status: 'online', timeoutMs?: number): Promise<unknown> }, name: string, labels?: Record<string, string>): Promise<void> {
  const res = await system.client.request('POST', '/v1/agents', { name, ...(labels ? { labels } : {}) });
  if (res.status !== 201) throw new Error(`agent registration failed: ${res.status} ${res.text}`);
  system.spawnAgent(res.body.token as string);
  await system.waitForAgentStatus(res.body.id as string, 'online', 90_000);
}
