import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import type { Logger } from '@vmo/shared/logger';
import type { Lease } from './connection-pool.ts';
import { LAUNCHER, remoteScript } from './remote-script.ts';
import { signalRemoteGroup, type RemoteGroup } from './signal-remote-group.ts';
import { StderrPreamble } from './stderr-preamble.ts';

export interface RemoteExit {
  exitCode: number | null;
  signal: string | null;
  error?: { code: string; message: string };
}

export interface RemoteCommand {
  jobId: string;
  command: string;
  env: Record<string, string>;
  cwd: string | null;
  /** For messages. */
  where: string;
}

/**
 * Where the command's output goes (the worker's OutputPump): stdout and stderr, and the channel to
 * pause while the output is written out (backpressure).
 */
export interface RemoteOutput {
  write(stream: 1 | 2, data: Buffer): void;
  attach(source: { pause(): void; resume(): void }): void;
}

/** What a stop asks (the `reason` of the stop signal: the worker's StopRequest): SIGKILL this long after SIGTERM. */
interface StopRequest {
  graceMs: number;
}

/** Same as local jobs: after the command exits, a background child holding stdout is read this long, then abandoned. */
const PIPE_LINGER_MS = 1000;

/**
 * Run one command in a session of a pooled connection, streaming its output into the pump, and
 * stop it on `stop`: SIGTERM to its process group on the host, SIGKILL to the group after the
 * grace (even if the command exited meanwhile: whatever is left of the group goes too).
 */
/** Tries of a session open that sshd refused as over MaxSessions (about 2.5 s in all). */
const CHANNEL_OPEN_RETRIES = 12;

export function runRemoteCommand(lease: Lease, cmd: RemoteCommand, pump: RemoteOutput, stop: AbortSignal, log: Logger): Promise<RemoteExit> {
  const client = lease.connection.client;
  const nonce = `vmo-${randomBytes(12).toString('hex')}`;
  return new Promise<RemoteExit>((resolve) => {
    // A stop before the server has opened the session wins at once (a server may never answer):
    // nothing has run, and a session that opens later is closed before its script is sent.
    let stoppedEarly = false;
    const stopEarly = () => {
      stoppedEarly = true;
      resolve({ exitCode: null, signal: null });
    };
    if (stop.aborted) return stopEarly();
    stop.addEventListener('abort', stopEarly, { once: true });
    const cannotOpen = (err: Error) => resolve({ exitCode: null, signal: null, error: { code: 'ssh_channel_failed', message: `cannot open a session on ${cmd.where}: ${err.message}` } });
    const open = (attempt: number) => {
      try {
        client.exec(LAUNCHER, (err, channel) => {
          if (stoppedEarly) return void channel?.close();
          // sshd answers "open failed" ("no more sessions" in its log) when its MaxSessions are in
          // use. It frees a session slot only once its own clean-up of a finished session has run,
          // which can come after the channel's close that gave our slot back: a refusal right then
          // is transient, so the open is tried again (nothing has run on the host yet).
          if (err && /open failed/i.test(err.message) && attempt < CHANNEL_OPEN_RETRIES) {
            setTimeout(() => (stoppedEarly ? undefined : open(attempt + 1)), 25 * (attempt + 1));
            return;
          }
          stop.removeEventListener('abort', stopEarly);
          if (err) return cannotOpen(err);
          void drive(channel).then(resolve);
        });
      } catch (err) {
        stop.removeEventListener('abort', stopEarly);
        cannotOpen(err as Error); // ssh2 throws when the connection closed between lease and exec
      }
    };
    open(0);
  });

  async function drive(channel: ClientChannel): Promise<RemoteExit> {
    let group: RemoteGroup | undefined;
    let pendingStop: StopRequest | undefined;
    let cwdFailed = false;
    let exit: { code: number | null; signal: string | null } | undefined;

    const terminate = (req: StopRequest, g: RemoteGroup) => {
      const done = lease.hold(); // the connection must outlive the session until SIGKILL is sent
      void signalRemoteGroup(client, g, 'TERM').then(async (ok) => {
        if (!ok) log.warn({ jobId: cmd.jobId }, 'could not deliver SIGTERM to the remote process group');
        await new Promise((r) => setTimeout(r, req.graceMs));
        if (!(await signalRemoteGroup(client, g, 'KILL'))) log.warn({ jobId: cmd.jobId }, 'could not deliver SIGKILL to the remote process group');
        done();
      });
    };
    const onStop = () => {
      if (pendingStop) return;
      pendingStop = stop.reason as StopRequest;
      if (group) terminate(pendingStop, group);
    };

    const stderr = new StderrPreamble(
      nonce,
      (e) => {
        if (e.t === 'pgid' || e.t === 'pid') {
          group = { kind: e.t, id: e.id };
          if (e.t === 'pid') log.warn({ jobId: cmd.jobId }, 'the remote command is not in its own process group; a cancel reaches only its shell');
          if (pendingStop) terminate(pendingStop, group);
        } else if (e.t === 'cwd-failed') cwdFailed = true;
      },
      (d) => pump.write(2, d),
    );

    // Backpressure: while paused, ssh2 stops widening the window and the remote command blocks on write.
    let paused = false;
    const linger = { timer: undefined as NodeJS.Timeout | undefined };
    const startLinger = () => {
      if (exit && !paused && !linger.timer) linger.timer = setTimeout(() => channel.close(), PIPE_LINGER_MS);
    };
    pump.attach({
      pause: () => {
        paused = true;
        clearTimeout(linger.timer);
        linger.timer = undefined;
        channel.pause();
        channel.stderr.pause();
      },
      resume: () => {
        paused = false;
        channel.resume();
        channel.stderr.resume();
        startLinger();
      },
    });
    channel.on('error', (err: Error) => log.debug({ jobId: cmd.jobId, err: err.message }, 'ssh session error')); // the close that follows ends the run
    channel.on('data', (d: Buffer) => pump.write(1, d));
    channel.stderr.on('data', (d: Buffer) => stderr.write(d));
    channel.on('exit', (code: number | null, signal?: string) => {
      exit = { code: code ?? null, signal: signal ?? null };
      startLinger();
    });
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });

    // The script goes on stdin, then EOF: the command itself then reads an empty stdin.
    channel.end(remoteScript({ nonce, jobId: cmd.jobId, command: cmd.command, env: cmd.env, cwd: cmd.cwd }));

    await new Promise<void>((resolve) => channel.once('close', () => resolve()));
    clearTimeout(linger.timer);
    stop.removeEventListener('abort', onStop);
    stderr.end();

    if (cwdFailed) return { exitCode: null, signal: null, error: { code: 'spawn_failed', message: `could not start the command: cannot change to directory ${cmd.cwd} on ${cmd.where}` } };
    if (exit) return { exitCode: exit.code, signal: exit.signal };
    return {
      exitCode: null,
      signal: null,
      error: { code: 'ssh_connection_lost', message: `the session on ${cmd.where} ended without an exit status (connection lost?); the command may still be running there` },
    };
  }
}
