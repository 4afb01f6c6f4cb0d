import { createRequire } from 'node:module';
import type { RunAsUser } from '@vmo/shared/process';
import type { ServerToAgent } from '@vmo/shared/protocol';
import type { Logger } from '../logger.ts';
import { PtySession, type ShellLink } from './pty-session.ts';

type ShellFrame = Extract<ServerToAgent, { type: `shell_${string}` }>;
type Spawn = typeof import('node-pty').spawn;

/**
 * node-pty, if this machine has it: a native module, not inlined in the bundled agent
 * (build-options.mjs keeps it external). Without it the agent does not announce `shell`
 * (SHELL.md §S5) and the API refuses shells on it with `shell_unsupported`.
 */
export function loadPtySpawn(log: Logger): Spawn | undefined {
  try {
    return (createRequire(import.meta.url)('node-pty') as typeof import('node-pty')).spawn;
  } catch (err) {
    log.info('no node-pty on this machine: shells are not offered', { error: (err as Error).message });
    return undefined;
  }
}

/** The agent's shell sessions (SHELL.md §S5): frames from the server to the PTY they name. */
export class ShellHost {
  private readonly sessions = new Map<string, PtySession>();

  constructor(
    private readonly spawn: Spawn,
    private readonly link: ShellLink,
    private readonly log: Logger,
    private readonly runAs?: RunAsUser,
  ) {}

  handle(msg: ShellFrame): void {
    if (msg.type === 'shell_open') return this.open(msg);
    const session = this.sessions.get(msg.session);
    if (!session) {
      if (msg.type === 'shell_ack') this.notFound(msg.session, msg.attach);
      return;
    }
    switch (msg.type) {
      case 'shell_input':
        return session.input(Buffer.from(msg.data, 'base64'));
      case 'shell_resize':
        return session.resize(msg.cols, msg.rows);
      case 'shell_ack':
        return session.ack(msg.attach, msg.offset);
      case 'shell_detach':
        return session.detach(msg.attach);
    }
  }

  /** Connected again (welcome): every session resends what it could not send, and its exit (PtySession.resume). */
  resume(): void {
    for (const s of this.sessions.values()) s.resume();
  }

  /** Stopping: kill every session's processes (PtySession.kill); resolves when they are gone. */
  async killAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.kill()));
  }

  private open(msg: Extract<ShellFrame, { type: 'shell_open' }>): void {
    let session = this.sessions.get(msg.session);
    if (!session) {
      // A reattach (offset > 0) to a session this agent does not hold: it ended long ago, was
      // reaped, or died with an agent restart. Never start a new shell under the old id.
      if (!msg.create) return this.notFound(msg.session, msg.attach);
      try {
        session = new PtySession(
          { id: msg.session, cols: msg.cols, rows: msg.rows, command: msg.command, graceMs: msg.graceMs, ringBytes: msg.ringBytes, runAs: this.runAs },
          this.spawn,
          this.link,
          this.log,
          (id) => this.sessions.delete(id),
        );
      } catch (err) {
        this.link.sendJson({ type: 'shell_error', v: 1, session: msg.session, attach: msg.attach, code: 'spawn_failed', message: (err as Error).message.slice(0, 1000) });
        return;
      }
      this.sessions.set(msg.session, session);
      this.log.info('shell opened', { session: msg.session, cols: msg.cols, rows: msg.rows });
    }
    session.attach(msg.attach, msg.offset);
  }

  private notFound(session: string, attach: string): void {
    this.link.sendJson({ type: 'shell_error', v: 1, session, attach, code: 'session_not_found', message: 'this agent holds no such shell session (it ended, was reaped, or the agent restarted)' });
  }
}
