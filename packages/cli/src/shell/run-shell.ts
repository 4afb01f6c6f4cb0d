import { spawnSync } from 'node:child_process';
import type { ShellEnd, VmoClient } from '@vmo/client';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { signalExitCode } from '../job/job-exit-code.ts';

export interface ShellRun {
  /** One of them: the agent's id or name, or the SSH host's ref. */
  agent?: string | undefined;
  host?: string | undefined;
  workspace?: string | undefined;
  /** A shell line for `/bin/sh -c` instead of the login shell. */
  command?: string | undefined;
}

/**
 * `vmo shell`'s terminal side: the local terminal in raw mode (so every key, Ctrl-C included, goes
 * to the remote PTY), its size on open and on every SIGWINCH, stdin's bytes in, the PTY's bytes
 * out, and the remote exit code as vmo's. The client reconnects by itself (session + offset) after a
 * dropped connection, so output is neither lost nor repeated. Resolves with the exit status.
 */
export async function runShell(client: VmoClient, run: ShellRun, io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const { stdin, stdout, stderr } = io;
  const tty = stdin.isTTY === true;
  const size = () => (stdout.isTTY && stdout.columns > 0 && stdout.rows > 0 ? { cols: Math.min(stdout.columns, 1000), rows: Math.min(stdout.rows, 1000) } : undefined);
  const initial = size();
  let notedDown = false;
  const shell = client.shell({
    ...(run.host !== undefined ? { host: run.host } : run.workspace !== undefined ? { workspace: run.workspace } : { agent: run.agent }),
    command: run.command,
    cols: initial?.cols,
    rows: initial?.rows,
    onOutput: (data) => void stdout.write(data),
    onHello: (hello, info) => {
      // The ring moved past what we showed: start from a clean screen, as the protocol asks.
      if (hello.reset && info.reconnected) stdout.write('\x1bc');
      if (notedDown) stderr.write('\r\nvmo: reconnected\r\n');
      notedDown = false;
    },
    // The first drop is usually over before anyone notices; say so only when a retry failed too.
    onDown: (down) => {
      if (down.closeCode !== undefined || notedDown) return;
      notedDown = true;
      stderr.write(`\r\nvmo: connection lost; reconnecting…\r\n`);
    },
  });

  // LOUD: raw mode must be undone on every way out (an exit, an error, a signal), or the user's
  // terminal is left without echo and line editing. process 'exit' covers the paths finally misses.
  const restore = () => {
    if (tty && stdin.isRaw) stdin.setRawMode(false);
  };
  process.once('exit', restore);
  if (tty) {
    stdin.setRawMode(true);
    // libuv's raw mode keeps output processing (ONLCR): the remote PTY already wrote \r\n, and a
    // bare \n a full-screen program sends to move down a line must not also return to column 0.
    // As ssh does (cfmakeraw): no output processing. setRawMode(false) restores the saved settings.
    if (stdout.isTTY) spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
  }
  const onData = (data: Buffer) => shell.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  // Not a terminal: the end of stdin is a Ctrl-D for the remote shell, as ssh does with a channel's EOF.
  const onEnd = () => shell.write('\x04');
  const onResize = () => {
    const now = size();
    if (now) shell.resize(now.cols, now.rows);
  };
  // Without a terminal, Ctrl-C reaches vmo as SIGINT: pass it on as the byte a terminal would send.
  const onSigint = () => shell.write('\x03');
  const onTerm = () => shell.detach();
  stdin.on('data', onData);
  if (!tty) stdin.once('end', onEnd);
  stdout.on('resize', onResize);
  process.on('SIGWINCH', onResize);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onTerm);
  try {
    return await exitStatus(client, run, await shell.done);
  } finally {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdout.off('resize', onResize);
    process.off('SIGWINCH', onResize);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onTerm);
    restore();
    process.off('exit', restore);
    stdin.pause();
  }
}

async function exitStatus(client: VmoClient, run: ShellRun, end: ShellEnd): Promise<number> {
  switch (end.kind) {
    case 'exit':
      return fromExit(end.code, end.signal);
    case 'detached':
      process.stderr.write(`vmo: detached from ${end.session}; it lives on for the server's grace (VMO_SHELL_GRACE_MS)\n`);
      return ExitCode.detached;
    case 'gone': {
      // It ended while we were away: its recording says how.
      // A workspace's session is its agent's.
      const target = run.workspace !== undefined ? await client.workspaces.get(run.workspace).then((w) => w.agent?.id ?? '', () => '') : (run.host ?? run.agent ?? '');
      const page = await client.sessions.list({ target, limit: 500 }).catch(() => undefined);
      const row = page?.items.find((s) => s.id === end.session);
      if (row?.endedAt) return fromExit(row.exitCode, row.signal);
      throw new CliError(`the shell session ${end.session} ended while vmo was disconnected (${end.reason})`);
    }
  }
}

function fromExit(code: number | null, signal: string | null): number {
  if (code !== null) return code;
  if (signal !== null) return signalExitCode(signal) ?? ExitCode.jobError;
  return ExitCode.jobError;
}
