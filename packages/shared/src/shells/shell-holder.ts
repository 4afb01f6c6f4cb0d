import type { ServerToAgent } from '../protocol/index.ts';
import { HeldShellSession, type ShellLink, type ShellLog, type ShellProcess } from './held-shell-session.ts';

export type ShellFrame = Extract<ServerToAgent, { type: `shell_${string}` }>;
export type ShellOpenFrame = Extract<ShellFrame, { type: 'shell_open' }>;

/** Start the terminal of a new session (throws: `spawn_failed`). */
export type OpenShellProcess = (open: ShellOpenFrame) => ShellProcess;

/**
 * The shell sessions one owner holds (SHELL.md §S5): frames from the server to the session they
 * name. The agent holds its PTYs with it (services/agent/src/shell/shell-host.ts), an API node its
 * SSH hosts' channels (services/api/src/shells/host-shells.ts): one home for the protocol's
 * session side, whatever the terminal is.
 */
export class ShellHolder {
  private readonly sessions = new Map<string, HeldShellSession>();

  constructor(
    private readonly openProcess: OpenShellProcess,
    private readonly link: ShellLink,
    private readonly log: ShellLog,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  has(session: string): boolean {
    return this.sessions.has(session);
  }

  /** The sessions held here whose terminal still runs (an exited one stays a minute, for a late reattach to get its end). */
  running(): string[] {
    return [...this.sessions.values()].filter((s) => !s.exited).map((s) => s.spec.id);
  }

  /** Kill one session's processes (HeldShellSession.kill); its exit is reported as any other. */
  async kill(session: string): Promise<void> {
    await this.sessions.get(session)?.kill();
  }

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

  /** Connected again (welcome): every session resends what it could not send, and its exit (HeldShellSession.resume). */
  resume(): void {
    for (const s of this.sessions.values()) s.resume();
  }

  /** Stopping: kill every session's processes (HeldShellSession.kill); resolves when they are gone. */
  async killAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.kill()));
  }

  private open(msg: ShellOpenFrame): void {
    let session = this.sessions.get(msg.session);
    if (!session) {
      // A reattach to a session this holder does not hold: it ended long ago, was reaped, or died
      // with its holder. Never start a new shell under the old id.
      if (!msg.create) return this.notFound(msg.session, msg.attach);
      try {
        session = new HeldShellSession({ id: msg.session, graceMs: msg.graceMs, ringBytes: msg.ringBytes }, this.openProcess(msg), this.link, this.log, (id) => this.sessions.delete(id));
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
    this.link.sendJson({ type: 'shell_error', v: 1, session, attach, code: 'session_not_found', message: 'no such shell session is held here (it ended, was reaped, or its holder restarted)' });
  }
}
