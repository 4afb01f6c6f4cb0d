import { agentShell, hostShell, ShellServerMessage, workspaceShell } from '@vmo/shared/api';
import { VmoApiError, VmoStreamClosedError } from './errors.ts';
import { routeUrl } from './http.ts';
import { connectShellSocket, type ShellSocket } from './shell-socket.ts';
import type { StreamTarget } from './stream.ts';
import { isTerminalAnswer } from './terminal-answers.ts';

export interface ShellHello {
  session: string;
  /** Where the bytes that follow start. */
  offset: number;
  /** The offset asked for had left the ring: reset the screen before rendering what follows. */
  reset: boolean;
}

/** How a shell ended for this client. */
export type ShellEnd =
  /** The shell exited: `code`, or the `signal` that killed it (`SIGHUP` for a session reaped after the grace). */
  | { kind: 'exit'; code: number | null; signal: string | null }
  /** detach() was called: the session lives on for VMO_SHELL_GRACE_MS. */
  | { kind: 'detached'; session: string; offset: number }
  /** The session ended (or was reaped) while this client was away: its exit is in GET /v1/sessions. */
  | { kind: 'gone'; session: string; reason: string };

export interface ShellDown {
  delayMs: number;
  closeCode?: number;
  status?: number;
  error?: Error;
}

export interface ShellOptions {
  /** The agent's id or name; or, instead, */
  agent?: string | undefined;
  /** an SSH host (GET /v1/hosts/{id}/shell): its `hst_…` id, `name@environment` or bare name. */
  host?: string | undefined;
  /** a workspace (GET /v1/workspaces/{id}/shell, on its agent): its `wks_…` id or, for your own, its name. */
  workspace?: string | undefined;
  /** Run `/bin/sh -c <command>` instead of the login shell (a new session only). */
  command?: string | undefined;
  cols?: number | undefined;
  rows?: number | undefined;
  /** Reattach to this session, having rendered `offset` bytes of it. */
  session?: string | undefined;
  offset?: number | undefined;
  /** Terminal bytes, in order, each once. `replay`: part of what the server had before this connection (see `replaying`). */
  onOutput(data: Uint8Array, info: { replay: boolean }): void;
  /** Every connection's hello, before its bytes; on `reset` clear the screen first. */
  onHello?(hello: ShellHello, info: { reconnected: boolean }): void;
  /** The connection dropped (or could not be opened again); the next try is in `delayMs`. */
  onDown?(down: ShellDown): void;
  signal?: AbortSignal | undefined;
  /** Reconnect delays (defaults 250 ms doubling to 5 s), and how long to keep trying (default 5 min, the default grace). */
  backoff?: { initialMs?: number; maxMs?: number; giveUpAfterMs?: number };
}

export interface ShellConnection {
  /** Keyboard input; queued (up to 64 KiB) while reconnecting. During a replay, input made only of terminal answers is dropped (SHELL.md §S2). */
  write(data: Uint8Array | string): void;
  resize(cols: number, rows: number): void;
  /** Detach: the session stays for its grace; `done` resolves `detached`. */
  detach(): void;
  /** The session id (after the first hello) and the bytes rendered so far: what a reconnect sends. */
  readonly session: string | undefined;
  readonly offset: number;
  /** True from a reattach's hello until its replay has gone quiet. */
  readonly replaying: boolean;
  /** Drop the current connection without a close handshake (tests; a reconnect follows). */
  dropConnection(): void;
  done: Promise<ShellEnd>;
}

/** A replay is over once no byte arrived for this long. The server does not mark its end; a burst from the ring is contiguous. */
const REPLAY_QUIET_MS = 150;
const MAX_QUEUED_INPUT = 64 * 1024;
/** Closes after which reconnecting cannot help: the client broke the protocol. */
const FINAL_CLOSE_CODES: readonly number[] = [1008, 1009, 4401];

/**
 * An interactive shell (GET /v1/agents/{id}/shell or /v1/hosts/{id}/shell, protocol/SHELL.md) that survives dropped
 * connections: after any close but the end (exit, detach, 4404) it reconnects with the session and
 * the offset of the last byte handed to `onOutput`, so the output continues without a byte lost or
 * repeated. A refusal of the first connection rejects `done` (VmoApiError); on a reconnect a 404
 * means the session is gone (`gone`), 409/429/503 and unreachable servers are retried until
 * `giveUpAfterMs`.
 */
export function openShell(target: StreamTarget, opts: ShellOptions): ShellConnection {
  if ([opts.agent, opts.host, opts.workspace].filter((t) => t !== undefined).length !== 1) throw new TypeError('openShell: name exactly one of `agent`, `host` and `workspace`');
  const initialMs = opts.backoff?.initialMs ?? 250;
  const maxMs = opts.backoff?.maxMs ?? 5_000;
  const giveUpAfterMs = opts.backoff?.giveUpAfterMs ?? 5 * 60_000;
  const encoder = new TextEncoder();
  let session = opts.session;
  let offset = opts.offset ?? 0;
  let size = opts.cols !== undefined && opts.rows !== undefined ? { cols: opts.cols, rows: opts.rows } : undefined;
  let socket: ShellSocket | undefined;
  let live = false; // hello received on the current socket
  let replaying = false;
  let replayTimer: ReturnType<typeof setTimeout> | undefined;
  let queued: Uint8Array[] = [];
  let queuedBytes = 0;
  let detaching = false;
  let ackTimer: ReturnType<typeof setTimeout> | undefined;

  const endReplaySoon = () => {
    clearTimeout(replayTimer);
    replayTimer = setTimeout(() => (replaying = false), REPLAY_QUIET_MS);
  };
  const sendAck = () => {
    ackTimer ??= setTimeout(() => {
      ackTimer = undefined;
      if (live) socket?.sendText(JSON.stringify({ type: 'ack', offset }));
    }, 250);
  };

  const connection: ShellConnection = {
    write(data) {
      const bytes = typeof data === 'string' ? encoder.encode(data) : data;
      if (bytes.length === 0) return;
      if (replaying && isTerminalAnswer(bytes)) return;
      if (live && socket) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) socket.sendBinary(bytes.subarray(i, i + 64 * 1024));
        return;
      }
      if (queuedBytes + bytes.length > MAX_QUEUED_INPUT) return; // typing into a dead link: keep the first 64 KiB
      queued.push(bytes);
      queuedBytes += bytes.length;
    },
    resize(cols, rows) {
      size = { cols, rows };
      if (live) socket?.sendText(JSON.stringify({ type: 'resize', cols, rows }));
    },
    detach() {
      detaching = true;
      if (live) socket?.sendText(JSON.stringify({ type: 'close' }));
      else socket?.close(1000, 'detached');
    },
    get session() {
      return session;
    },
    get offset() {
      return offset;
    },
    get replaying() {
      return replaying;
    },
    dropConnection() {
      socket?.terminate();
    },
    done: undefined as unknown as Promise<ShellEnd>,
  };

  /** One connection: resolves with how it closed (or how the shell ended), rejects when refused. */
  const connectOnce = (reconnected: boolean) =>
    new Promise<{ end?: ShellEnd; closeCode?: number }>((resolve, reject) => {
      let exit: ShellEnd | undefined;
      let gone: string | undefined;
      const query = session === undefined
        ? { cols: size?.cols, rows: size?.rows, command: opts.command }
        : { session, offset, cols: size?.cols, rows: size?.rows };
      const base = target.baseUrl.replace(/^http/, 'ws');
      const url = opts.host !== undefined
        ? routeUrl(base, hostShell, { id: opts.host }, query)
        : opts.workspace !== undefined
          ? routeUrl(base, workspaceShell, { id: opts.workspace }, query)
          : routeUrl(base, agentShell, { id: opts.agent ?? '' }, query);
      live = false;
      connectShellSocket(target, url, {
        onBinary: (data) => {
          if (!live) return;
          offset += data.length;
          if (replaying) endReplaySoon();
          opts.onOutput(data, { replay: replaying });
          sendAck();
        },
        onText: (text) => {
          let msg: ShellServerMessage;
          try {
            msg = ShellServerMessage.parse(JSON.parse(text));
          } catch {
            return; // a frame a newer server added
          }
          if (msg.type === 'hello') {
            const first = session === undefined;
            session = msg.session;
            // Bytes from here on are numbered from hello.offset (after a reset, past what we had).
            offset = msg.offset;
            live = true;
            replaying = !first;
            if (replaying) endReplaySoon();
            opts.onHello?.(msg, { reconnected });
            if (detaching) return socket?.sendText(JSON.stringify({ type: 'close' }));
            if (reconnected && size) socket?.sendText(JSON.stringify({ type: 'resize', ...size }));
            const pending = queued;
            queued = [];
            queuedBytes = 0;
            for (const bytes of pending) connection.write(bytes);
          } else if (msg.type === 'exit') exit = { kind: 'exit', code: msg.code, signal: msg.signal };
          else if (msg.code === 'session_not_found') gone = msg.message;
        },
        onClose: (code, reason) => {
          live = false;
          if (exit) return resolve({ end: exit });
          if (code === 4404 || gone !== undefined) return resolve({ end: { kind: 'gone', session: session!, reason: gone ?? reason } });
          if (detaching) return resolve({ end: { kind: 'detached', session: session!, offset } });
          if (FINAL_CLOSE_CODES.includes(code)) return reject(new VmoStreamClosedError(code, reason));
          resolve({ closeCode: code });
        },
      }).then(
        (s) => {
          socket = s;
          if (opts.signal?.aborted) s.terminate();
        },
        reject,
      );
    });

  connection.done = (async (): Promise<ShellEnd> => {
    let reconnected = false;
    let failures = 0;
    let downSince: number | undefined;
    const onAbort = () => socket?.terminate();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        let down: Omit<ShellDown, 'delayMs'>;
        try {
          const result = await connectOnce(reconnected);
          if (result.end) return result.end;
          down = { closeCode: result.closeCode! };
          failures = 0;
          downSince = undefined;
        } catch (err) {
          if (!reconnected || err instanceof VmoStreamClosedError) throw err;
          if (err instanceof VmoApiError) {
            // The session ended or was reaped while we were away.
            if (err.status === 404) return { kind: 'gone', session: session!, reason: err.message };
            if (!err.retryable && err.status !== 409) throw err;
            down = { status: err.status };
          } else down = { error: err as Error };
        }
        if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new DOMException('shell aborted', 'AbortError');
        // Nothing arrived yet (the first connection broke before its hello): start a new session, not a reattach.
        reconnected = session !== undefined;
        if (!reconnected) throw down.error ?? new Error(`the shell closed before it opened (${down.closeCode ?? down.status})`);
        downSince ??= Date.now();
        if (Date.now() - downSince > giveUpAfterMs) throw down.error ?? new Error(`the shell could not be reconnected within ${giveUpAfterMs} ms (last: ${down.closeCode ?? down.status})`);
        const delayMs = Math.round(Math.min(maxMs, initialMs * 2 ** failures++) * (0.5 + Math.random() / 2));
        opts.onDown?.({ delayMs, ...down });
        await new Promise((r) => setTimeout(r, delayMs));
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      clearTimeout(replayTimer);
      clearTimeout(ackTimer);
    }
  })();
  return connection;
}
