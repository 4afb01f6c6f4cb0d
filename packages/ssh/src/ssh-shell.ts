import type { ClientChannel } from 'ssh2';
import type { Database } from '@vmo/shared/db';
import type { Logger } from '@vmo/shared/logger';
import type { ShellProcess } from '@vmo/shared/shells';
import { stillTrusted } from './still-trusted.ts';
import type { Lease, SshConnectionPool } from './connection-pool.ts';
import { resolveRoute } from './resolve-route.ts';

export interface SshShellDeps {
  database: Database;
  pool: SshConnectionPool;
  log: Logger;
}

export interface SshShellOpen {
  session: string;
  cols: number;
  rows: number;
  /** Null: the user's login shell (`shell()`); otherwise `exec(command)` with a pty, as `ssh -t host command`. */
  command: string | null;
}

/** Between the HUP and closing the channel when a session is reaped. */
const REAP_CLOSE_MS = 2_000;

/**
 * A shell session's terminal on an SSH host (SHELL.md §S4–§S6): a channel with a pty request on
 * the pooled connection the SSH executor uses (same route, bastions, host key trust, identity
 * files and VMO_SSH_* settings), holding one of its session slots while it lives.
 *
 * The connection is opened in the background: input and resizes before it is up are queued. A
 * host that cannot be reached ends the session as `ssh` does: a message on the terminal and exit
 * code 255.
 */
export function openSshShell(deps: SshShellDeps, hostId: string, open: SshShellOpen): ShellProcess {
  let channel: ClientChannel | undefined;
  let lease: Lease | undefined;
  let ended = false;
  let paused = false;
  let size = { cols: open.cols, rows: open.rows };
  const queued: Buffer[] = [];
  const dataListeners: ((d: Buffer) => void)[] = [];
  const exitListeners: ((code: number | null, signal: string | null) => void)[] = [];
  const emit = (d: Buffer) => dataListeners.forEach((l) => l(d));
  let closed!: () => void;
  const whenClosed = new Promise<void>((r) => (closed = r));
  const end = (code: number | null, signal: string | null) => {
    if (ended) return;
    ended = true;
    lease?.release();
    closed();
    for (const l of exitListeners) l(code, signal);
  };
  const abandon = new AbortController();

  void (async () => {
    const route = await resolveRoute(deps.database.db, hostId);
    lease = await deps.pool.acquire(route, (c) => stillTrusted(route.target, c), abandon.signal);
    if (ended) return lease.release();
    const pty = { term: 'xterm-256color', cols: size.cols, rows: size.rows, width: 0, height: 0 };
    const ch = await new Promise<ClientChannel>((resolve, reject) => {
      const cb = (err: Error | undefined, c: ClientChannel) => (err ? reject(err) : resolve(c));
      if (open.command === null) lease!.connection.client.shell(pty, cb);
      else lease!.connection.client.exec(open.command, { pty }, cb);
    });
    channel = ch;
    if (ended) return void ch.close();
    let exit: { code: number | null; signal: string | null } | undefined;
    ch.on('data', (d: Buffer) => emit(d));
    ch.stderr.on('data', (d: Buffer) => emit(d)); // with a pty there is none; without one it is the terminal's too
    ch.on('error', (err: Error) => deps.log.debug({ session: open.session, err: err.message }, 'ssh shell channel error'));
    ch.on('exit', (code: number | null, signal?: string) => {
      // ssh2 names the signal as the agent does (`SIGHUP`); the wire's bare name (`HUP`) is prefixed if one comes through.
      exit = { code: signal ? null : (code ?? null), signal: signal ? (signal.startsWith('SIG') ? signal : `SIG${signal}`) : null };
    });
    // 'close' comes after the last data: the exit is reported once all output is in the ring.
    ch.once('close', () => end(exit?.code ?? null, exit?.signal ?? (exit ? null : 'SIGHUP')));
    if (size.cols !== open.cols || size.rows !== open.rows) ch.setWindow(size.rows, size.cols, 0, 0);
    for (const d of queued.splice(0)) ch.write(d);
    if (paused) ch.pause();
  })().catch((err: Error & { code?: string }) => {
    if (ended) return;
    deps.log.info({ session: open.session, hostId, err: err.message }, 'ssh shell could not be opened');
    emit(Buffer.from(`vmo: cannot open a shell on this host: ${err.message}\r\n`));
    end(255, null);
  });

  return {
    write: (data) => (channel ? void channel.write(data) : void queued.push(data)),
    resize: (cols, rows) => {
      size = { cols, rows };
      channel?.setWindow(rows, cols, 0, 0);
    },
    // Backpressure: while paused, ssh2 stops widening the window and the remote program blocks on write.
    pause: () => {
      paused = true;
      channel?.pause();
    },
    resume: () => {
      paused = false;
      channel?.resume();
    },
    onData: (l) => void dataListeners.push(l),
    onExit: (l) => void exitListeners.push(l),
    /**
     * §S4 reap: SIGHUP to the remote session (a `signal` request: OpenSSH delivers it to the
     * shell), then close the channel: sshd closes the pty, and the kernel's hangup reaches the
     * terminal's foreground process group and the shell, which passes it to its jobs. LOUD: what
     * ignores SIGHUP and left the terminal (nohup, setsid) survives: unlike the agent, sshd gives
     * us no marker to find it by (no AcceptEnv for VMO_SHELL_SESSION by default).
     */
    reap: async () => {
      if (ended) return;
      if (!channel) {
        abandon.abort(new Error('the shell was reaped before its connection was up'));
        return end(null, 'SIGHUP');
      }
      try {
        channel.signal('HUP');
      } catch {
        /* the connection is gone: its close ends the session */
      }
      await Promise.race([whenClosed, new Promise((r) => setTimeout(r, REAP_CLOSE_MS))]);
      if (!ended) channel.close();
      await Promise.race([whenClosed, new Promise((r) => setTimeout(r, REAP_CLOSE_MS))]);
      end(null, 'SIGHUP');
    },
  };
}
