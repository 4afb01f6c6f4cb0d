import { publishShellEvent, type AgentCommand } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { insertAuditEvents } from '@vmo/shared/audit';
import type { Logger } from '@vmo/shared/logger';
import { decodeShellOutputFrame, FEATURE_SHELL, type AgentShellAttached, type AgentShellError, type AgentShellExit, type ServerToAgent } from '@vmo/shared/protocol';
import { newId } from '@vmo/shared/ids';
import { endShellSession, recordShellChunk, recordedInputEnd, releaseShellSlot } from '@vmo/shared/shells';

type ShellCommand = Extract<AgentCommand, { type: `shell_${string}` }>;

/**
 * The most output bytes of one session waiting here to be stored. The PTY is paused by the
 * attachments' acks (SHELL.md §S6), which do not wait for the recording: a client that reads fast
 * while Postgres is slow or down, or a detached session (nobody acks, nothing pauses it) running
 * `yes`, would otherwise queue up to VMO_MAX_OUTPUT_BYTES per session in this process. Past it the
 * chunk is relayed but NOT recorded (warned once per session; the gap is visible in the stored
 * offsets, as for output lost while the agent was away, §S7).
 */
export const SHELL_RECORD_BACKLOG_BYTES = 8 * 1024 * 1024;

/**
 * The node holding an agent's socket, for its shells (SHELL.md §S5, §S7): commands from the bus
 * to the agent, what the agent says to `shell:{session}` for every node with a client attached,
 * and the recording of the output in Postgres.
 */
export class ShellRelayHolder {
  /** Per session, the recording's chain: chunks stored in order, the end after the last of them. */
  private readonly records = new Map<string, Promise<void>>();
  /**
   * Sessions known to be this agent's: those a command was forwarded for (the API addresses a
   * session's commands to its row's agent only), or whose row names this agent.
   */
  private readonly own = new Set<string>();
  /**
   * VMO_SHELL_RECORD_INPUT: per session, the offset the next input byte is stored at (stream 0).
   * Seeded from what is stored, so another node or a restarted relay continues the numbering.
   */
  private readonly inputEnds = new Map<string, number>();
  /** Per session, output bytes queued to be stored (SHELL_RECORD_BACKLOG_BYTES), and the sessions already warned of a gap. */
  private readonly backlog = new Map<string, number>();
  private readonly gapWarned = new Set<string>();
  /** Sessions being looked up, with the frames that came meanwhile (kept in order, run once it is known). */
  private readonly pending = new Map<string, (() => void)[]>();

  constructor(
    private readonly agentId: string,
    private readonly features: ReadonlySet<string>,
    private readonly deps: { cp: ControlPlane; log: Logger; recordShellInput?: boolean | undefined },
    /** A frame named a session that is not this agent's: the agent's socket is closed (1008). */
    private readonly onForeign: (session: string) => void = () => {},
    /** Who `shell.close` names: the agent, or `system` for an SSH host's shell held by an API node (shells/host-shells.ts). */
    private readonly closedBy: 'agent' | 'system' = 'agent',
  ) {}

  /**
   * LOUD: an agent is trusted with its own sessions only (SHELL.md §S5): a frame for another
   * agent's session would write into a stranger's terminal and recording, or end it. `run` is
   * called, in arrival order per session, once the session is known to be this agent's.
   */
  private ifOwn(session: string, run: () => void): void {
    if (this.own.has(session)) return run();
    const queued = this.pending.get(session);
    if (queued) return void queued.push(run);
    this.pending.set(session, [run]);
    this.deps.cp.database.sql<{ target_id: string }[]>`select target_id from shell_sessions where id = ${session}`.then(
      ([row]) => {
        const waiting = this.pending.get(session) ?? [];
        this.pending.delete(session);
        if (row?.target_id !== this.agentId) {
          this.deps.log.warn({ agentId: this.agentId, session }, 'shell frame for a session that is not this agent\'s: connection closed');
          return this.onForeign(session);
        }
        this.own.add(session);
        for (const step of waiting) step();
      },
      (err: Error) => {
        // A store outage: these frames are dropped; a client detects the gap and asks for a replay.
        this.pending.delete(session);
        this.deps.log.warn({ err: err.message, session }, 'shell frames dropped: could not check the session\'s agent');
      },
    );
  }

  /**
   * LOUD: a session the agent lost while nobody was attached (it restarted during the grace, or
   * died before an open reached it) is ended by nobody: its row stays open for ever, and no
   * retention pass deletes an open row. So, once connected, the agent is asked about each session
   * its rows say it holds that was opened before `openedBefore`: a `shell_ack` from an attachment
   * nobody has is ignored by a session it holds, and answered `session_not_found` for one it does
   * not, which ends the row as lost (relayControl). `openedBefore` must be a time after which no
   * `shell_open` of those sessions can still arrive (the caller waits SHELL_OPEN_TIMEOUT_MS past
   * it), or a session being created would be ended under its user.
   */
  async probeOpenSessions(send: (frame: ServerToAgent) => void, openedBefore: Date): Promise<number> {
    if (!this.features.has(FEATURE_SHELL)) return 0;
    const rows = await this.deps.cp.database.sql<{ id: string }[]>`select id from shell_sessions
      where target_id = ${this.agentId} and ended_at is null and opened_at < ${openedBefore.toISOString()}::timestamptz
      order by opened_at limit 1000`;
    for (const { id } of rows) {
      this.own.add(id);
      send({ type: 'shell_ack', v: 1, session: id, attach: newId('att'), offset: 0 });
    }
    return rows.length;
  }

  /** A bus command as the frame for the agent; an agent that cannot open shells gets none, and the client is told. */
  toAgent(msg: ShellCommand): ServerToAgent | undefined {
    if (!this.features.has(FEATURE_SHELL)) {
      if (msg.type === 'shell_open') {
        void publishShellEvent(this.deps.cp, msg.session, { type: 'error', attach: msg.attach, code: 'shell_unsupported', message: `agent ${this.agentId} offers no shells (an older agent, or node-pty is not installed on its machine)` });
      }
      return undefined;
    }
    this.own.add(msg.session);
    if (msg.type === 'shell_input' && this.deps.recordShellInput) this.recordInput(msg.session, Buffer.from(msg.data, 'base64'));
    return { ...msg, v: 1 } as ServerToAgent;
  }

  /** A binary shell output frame: relay (in order: one Redis connection), record. A string says why it is malformed. */
  output(buf: Buffer): string | undefined {
    const frame = decodeShellOutputFrame(buf);
    if (typeof frame === 'string') return frame;
    this.ifOwn(frame.session, () => this.relayOutput(frame));
    return undefined;
  }

  private relayOutput(frame: { session: string; offset: number; data: Buffer }): void {
    void publishShellEvent(this.deps.cp, frame.session, { type: 'output', offset: frame.offset, data: frame.data.toString('base64') });
    const cap = this.deps.cp.limits.maxOutputBytes;
    if (frame.offset >= cap) return;
    const queued = this.backlog.get(frame.session) ?? 0;
    if (queued + frame.data.length > SHELL_RECORD_BACKLOG_BYTES) return this.warnGap(frame.session, frame.offset);
    this.backlog.set(frame.session, queued + frame.data.length);
    this.chain(frame.session, async () => {
      try {
        await recordShellChunk(this.deps.cp.database.sql, frame.session, 1, frame.offset, frame.data, cap);
      } finally {
        const left = (this.backlog.get(frame.session) ?? frame.data.length) - frame.data.length;
        if (left > 0) this.backlog.set(frame.session, left);
        else this.backlog.delete(frame.session);
      }
    });
  }

  /** Output bytes of all this holder's sessions waiting to be stored (at most SHELL_RECORD_BACKLOG_BYTES each). */
  get recordBacklogBytes(): number {
    let total = 0;
    for (const n of this.backlog.values()) total += n;
    return total;
  }

  private warnGap(session: string, offset: number): void {
    if (this.gapWarned.has(session)) return;
    this.gapWarned.add(session);
    this.deps.log.warn({ session, offset, backlogBytes: SHELL_RECORD_BACKLOG_BYTES }, 'shell output not recorded: the recording is too far behind (Postgres slow or unavailable); the stored output has a gap from here');
  }

  /**
   * SHELL.md §S7 input (only with VMO_SHELL_RECORD_INPUT=true): what clients typed, recorded here
   * because every keystroke of every attachment passes through the node holding the terminal, in
   * the order the terminal gets it. LOUD: offsets are this stream's own; the first chunk after a
   * relay (re)starts continues from the stored end, or a restart would overwrite nothing (same
   * keys, ON CONFLICT DO NOTHING) and silently lose what was typed next.
   */
  private recordInput(session: string, data: Buffer): void {
    const cap = this.deps.cp.limits.maxOutputBytes;
    this.chain(session, async () => {
      const sql = this.deps.cp.database.sql;
      const offset = this.inputEnds.get(session) ?? (await recordedInputEnd(sql, session));
      this.inputEnds.set(session, offset + data.length);
      if (offset < cap) await recordShellChunk(sql, session, 0, offset, data, cap);
    });
  }

  fromAgent(msg: AgentShellAttached | AgentShellExit | AgentShellError): void {
    this.ifOwn(msg.session, () => this.relayControl(msg));
  }

  private relayControl(msg: AgentShellAttached | AgentShellExit | AgentShellError): void {
    const { cp } = this.deps;
    switch (msg.type) {
      case 'shell_attached':
        void publishShellEvent(cp, msg.session, { type: 'attached', attach: msg.attach, offset: msg.offset, reset: msg.reset });
        return;
      case 'shell_error':
        void publishShellEvent(cp, msg.session, { type: 'error', attach: msg.attach, code: msg.code, message: msg.message });
        // LOUD: the agent no longer holds it (restarted, crashed, or forgot it after an exit it
        // could not report): nobody else will ever end the row.
        if (msg.code === 'session_not_found') this.chain(msg.session, () => this.end(msg.session, null, null, { lost: true }));
        return;
      case 'shell_exit':
        // LOUD: the end is written after every chunk before it is stored, so a session marked ended has its whole recording.
        this.chain(msg.session, async () => {
          await this.end(msg.session, msg.code, msg.signal, {});
          // Published after the row, so a client told `exit` finds the session ended (and recorded).
          void publishShellEvent(cp, msg.session, { type: 'exit', code: msg.code, signal: msg.signal });
        });
        return;
    }
  }

  /** The session's end and its `shell.close` audit row, once (endShellSession answers only its first writer). */
  private async end(session: string, code: number | null, signal: string | null, extra: Record<string, unknown>): Promise<void> {
    const { cp } = this.deps;
    this.inputEnds.delete(session);
    this.gapWarned.delete(session);
    // Its slot of VMO_SHELL_MAX_SESSIONS_PER_TARGET is free, whether or not anyone is attached to hear the end.
    await releaseShellSlot(cp, this.agentId, session).catch(() => {});
    const ended = await endShellSession(cp.database.sql, session, this.agentId, code, signal, extra['lost'] ? 'lost' : 'exited');
    if (!ended) return;
    await insertAuditEvents(cp.database.sql, [
      {
        actorKind: this.closedBy,
        actorId: this.closedBy === 'agent' ? this.agentId : null,
        actorName: ended.target_name,
        tokenId: null,
        action: 'shell.close',
        resourceType: 'shell_session',
        resourceId: session,
        targets: [ended.target_name],
        sourceIp: null,
        requestId: null,
        result: 'allowed',
        status: null,
        detail: { exitCode: code, signal, recordedBytes: Number(ended.recorded_bytes), ...extra },
      },
    ]);
  }

  /** Resolves once every recording step queued so far is done (a host-shell node stopping waits for it, shells/host-shells.ts). */
  async settled(): Promise<void> {
    await Promise.all([...this.records.values()]);
  }

  private chain(session: string, step: () => Promise<void>): void {
    const next = (this.records.get(session) ?? Promise.resolve()).then(step).catch((err: Error) => {
      this.deps.log.warn({ err: err.message, session }, 'shell recording failed for a chunk');
    });
    this.records.set(session, next);
    void next.then(() => {
      if (this.records.get(session) === next) this.records.delete(session);
    });
  }
}
