import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredState, ObservedState, ProviderContext, ProviderResult, WorkspaceProvider } from '@vmo/shared/workspaces';
import { CommandProviderConfig } from '@vmo/shared/workspaces';

/**
 * The `command` provider (issue 18), DevPod's provider contract: a template gives five shell
 * commands, and a team plugs in its cloud's CLI without code.
 *
 *   create  makes the machine (it may leave it running or stopped: `status` says which)
 *   start   starts a stopped one        stop    stops a running one
 *   delete  removes it                  status  prints one of Running, Busy, Stopped, NotFound
 *
 * Each runs as `sh -c <command>` in its own process group with, as environment variables:
 *   WORKSPACE_ID, WORKSPACE_NAME;   VMO_PARAM_<NAME> for each workspace parameter (upper-cased,
 *   anything but letters and digits as `_`);   for create and start only, VMO_AGENT_URL,
 *   VMO_AGENT_TOKEN and VMO_AGENT_NAME (what the machine's agent needs to dial in);   and the
 *   template's `env`. Of the worker's own environment only PATH, HOME, LANG, LC_*, TZ, USER,
 *   LOGNAME, SHELL and TMPDIR (LOUD: an allow-list: the rest is the worker's configuration and
 *   credentials, VMO_* database URL and tokens, PG*, AWS_*, whatever the host set).
 * Output lines go to the operation's log with the agent token masked (***). A non-zero exit fails
 * with the last stderr lines; cancelling kills the whole process group; `timeoutMs` bounds each.
 *
 * Converging reads `status` and acts until the machine is where it should be, as DevPod does:
 * NotFound → create, Stopped → start (running); Running → stop (stopped); anything but NotFound →
 * delete (absent); Busy → wait and ask again. Each action runs at most once per converge, so a
 * script whose status never changes fails instead of looping.
 */

const COMMANDS = ['create', 'start', 'stop', 'delete', 'status'] as const;
type CommandName = (typeof COMMANDS)[number];

const STATUS_WORDS: Record<string, ObservedState> = { Running: 'running', Busy: 'busy', Stopped: 'stopped', NotFound: 'not_found' };

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
/** How long a Busy machine is waited for, in all, before the converge fails. */
const DEFAULT_BUSY_WAIT_MS = 30 * 60_000;
const KILL_GRACE_MS = 5000;

export class CommandProviderError extends Error {
  override name = 'CommandProviderError';
}

/** `VMO_PARAM_<NAME>`: upper-cased, anything but letters and digits as `_`. */
export const paramVar = (name: string) => `VMO_PARAM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** The worker's variables a template command gets (a shell's basics); nothing else of the worker's. */
const INHERITED = new Set(['PATH', 'HOME', 'LANG', 'TZ', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR']);
const inherited = (k: string) => INHERITED.has(k) || k.startsWith('LC_');

function environment(ctx: ProviderContext, env: Record<string, string> | undefined, withAgent: boolean): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (inherited(k) && v !== undefined) out[k] = v;
  Object.assign(out, env ?? {});
  for (const [k, v] of Object.entries(ctx.params)) out[paramVar(k)] = v;
  out.WORKSPACE_ID = ctx.workspaceId;
  out.WORKSPACE_NAME = ctx.workspaceName;
  if (withAgent && ctx.agent) {
    out.VMO_AGENT_URL = ctx.agent.url;
    out.VMO_AGENT_TOKEN = ctx.agent.token;
    out.VMO_AGENT_NAME = ctx.agent.name;
  }
  return out;
}

/** Runs one of the template's commands; answers its stdout (also logged, except status's). */
async function runCommand(ctx: ProviderContext, config: CommandProviderConfig, name: CommandName): Promise<string> {
  ctx.signal.throwIfAborted();
  const withAgent = name === 'create' || name === 'start';
  const token = ctx.agent?.token;
  // LOUD: the token is masked in everything that leaves here (log lines, error messages).
  const mask = (s: string) => (token ? s.split(token).join('***') : s);
  const child = spawn('sh', ['-c', config[name]], {
    detached: true, // its own process group: cancel and timeout reach everything it started
    cwd: tmpdir(),
    env: environment(ctx, config.env, withAgent),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderrTail: string[] = [];
  const lines = (stream: NodeJS.ReadableStream, onLine: (line: string) => void) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const l of parts) onLine(l);
    });
    return () => {
      if (rest) onLine(rest);
      rest = '';
    };
  };
  const flushOut = lines(child.stdout!, (l) => {
    stdout.push(l);
    if (name !== 'status') ctx.log(mask(l));
  });
  const flushErr = lines(child.stderr!, (l) => {
    ctx.log(mask(l));
    stderrTail.push(l);
    if (stderrTail.length > 10) stderrTail.shift();
  });

  let why: 'canceled' | 'timed out' | undefined;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  let hard: NodeJS.Timeout | undefined;
  const stop = (reason: 'canceled' | 'timed out') => {
    if (why) return;
    why = reason;
    killGroup('SIGTERM');
    hard = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
  };
  const onAbort = () => stop('canceled');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = setTimeout(() => stop('timed out'), timeoutMs);
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
      // A script may leave a child running that holds its stdout (`agent &` in start): once sh
      // itself has exited, its output is read for a moment more, then no longer waited for.
      child.once('exit', (code, signal) => {
        setTimeout(() => {
          child.stdout!.destroy();
          child.stderr!.destroy();
          resolve({ code, signal });
        }, 1000).unref();
      });
    });
    flushOut();
    flushErr();
    if (why === 'canceled') throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new CommandProviderError(`command provider: ${name} canceled`);
    if (why === 'timed out') throw new CommandProviderError(`command provider: ${name} timed out after ${timeoutMs} ms`);
    if (code !== 0) {
      const tail = stderrTail.join('\n').trim();
      throw new CommandProviderError(mask(`command provider: ${name} failed (${code !== null ? `exit ${code}` : `signal ${signal}`})${tail ? `: ${tail}` : ''}`));
    }
    return stdout.join('\n');
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onAbort);
    // Whatever it left behind in its group goes too (a backgrounded child of a finished script).
    if (why && hard) {
      clearTimeout(hard);
      killGroup('SIGKILL');
    }
  }
}

async function readStatus(ctx: ProviderContext, config: CommandProviderConfig): Promise<ObservedState> {
  const out = (await runCommand(ctx, config, 'status')).trim();
  const state = STATUS_WORDS[out];
  if (!state) {
    const token = ctx.agent?.token;
    const shown = (token ? out.split(token).join('***') : out).slice(0, 200);
    throw new CommandProviderError(`command provider: status printed ${JSON.stringify(shown)}; it must print exactly one of Running, Busy, Stopped, NotFound`);
  }
  return state;
}

export function createCommandProvider(): WorkspaceProvider {
  return {
    kind: 'command',
    status: (ctx) => readStatus(ctx, CommandProviderConfig.parse(ctx.config)),

    async converge(ctx: ProviderContext, desired: DesiredState): Promise<ProviderResult> {
      const config = CommandProviderConfig.parse(ctx.config);
      const pollMs = typeof ctx.config.statusPollMs === 'number' && ctx.config.statusPollMs > 0 ? ctx.config.statusPollMs : 2000;
      const busyUntil = Date.now() + (config.timeoutMs ?? DEFAULT_BUSY_WAIT_MS);
      const done = new Set<CommandName>();
      const act = async (name: CommandName, seen: ObservedState) => {
        if (done.has(name)) throw new CommandProviderError(`command provider: status still says ${seen} after ${name}; refusing to run ${name} again`);
        done.add(name);
        ctx.log(`${name} (status was ${seen})`);
        await runCommand(ctx, config, name);
      };
      for (;;) {
        const seen = await readStatus(ctx, config);
        if (seen === 'busy') {
          if (Date.now() >= busyUntil) throw new CommandProviderError('command provider: status stayed Busy too long');
          await sleep(pollMs, undefined, { signal: ctx.signal });
          continue;
        }
        if (desired === 'running') {
          if (seen === 'running') break;
          if (!ctx.agent) throw new CommandProviderError('command provider: converge(running) needs the agent launch');
          await act(seen === 'not_found' ? 'create' : 'start', seen);
        } else if (desired === 'stopped') {
          if (seen === 'stopped' || seen === 'not_found') break;
          await act('stop', seen);
        } else {
          if (seen === 'not_found') return { state: null };
          await act('delete', seen);
        }
      }
      return { state: { observed: desired } };
    },
  };
}

export const commandProvider = (): WorkspaceProvider => createCommandProvider();
