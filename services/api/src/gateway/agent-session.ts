import type { WebSocket, RawData } from 'ws';
import { markChanged, publishAgentCommand, publishJobEvent, type AgentCommand, type BusSubscriber } from '@vmo/shared/bus';
import { ShellRelayHolder } from './shell-relay-holder.ts';
import { SHELL_OPEN_TIMEOUT_MS } from '../shells/shell-attachment.ts';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { DEFAULT_CANCEL_GRACE_MS, isTerminal, withoutReservedLabels } from '@vmo/shared/domain';
import { markJobAccepted, openSecretEnv, transition } from '@vmo/shared/jobs';
import type { LogSink } from '@vmo/shared/logsink';
import type { Logger } from '@vmo/shared/logger';
import { presenceOwner, type AgentPresenceWriter } from '@vmo/shared/presence';
import {
  AgentCloseCode,
  AgentToServer,
  canonicalHeartbeatRunning,
  decodeOutputFrame,
  SHELL_OUTPUT_FRAME_KIND,
  FEATURE_SECRET_ENV,
  PROTOCOL_VERSION,
  type AgentExit,
  type AgentHello,
  type OutputFrame,
  type ServerToAgent,
} from '@vmo/shared/protocol';
import { AckTracker } from './ack-tracker.ts';
import { storedPrefixLength } from './stored-prefix.ts';
import { nextConnectionGeneration } from './connection-generation.ts';
import { recordHello, reportedKey } from './record-hello.ts';

export interface SessionDeps {
  cp: ControlPlane;
  sink: LogSink;
  bus: BusSubscriber;
  presence: AgentPresenceWriter;
  log: Logger;
  /** VMO_SHELL_RECORD_INPUT: this agent's shells record what is typed too (shell-relay-holder.ts). */
  recordShellInput?: boolean | undefined;
}

/**
 * A job the agent holds, as this socket knows it.
 *
 * LOUD: `attempt` is the attempt THE AGENT says it holds (its hello, its `started`), never the
 * attempt of a `run` we forwarded nor the job row's. Output frames carry no attempt (§3): each is
 * the output of the attempt the agent holds for that job, and the agent sends `started` for an
 * attempt before any of its output, on this same ordered socket. So a chunk is stored under the
 * attempt of the last hello/`started` seen for its job, and a job with no entry (never confirmed
 * here, or abandoned) has its frames refused. Taking the attempt from anywhere else could file
 * output of a retried job's stale attempt (a partitioned agent still running attempt 1) under
 * attempt 2 (issue 14); the sink's fence then refuses what is stale (insert-output-batch.ts).
 */
interface HeldJob {
  attempt: number;
  acks: AckTracker;
  /** Appends not yet durable; an exit waits for them. */
  pending: Set<Promise<void>>;
  ackScheduled: boolean;
}

const HELLO_TIMEOUT_MS = 10_000;

/**
 * One agent's socket on this API node (PROTOCOL.md §1–§7): handshake, dispatches and cancels
 * from Redis to the agent, output to the log sink with cumulative acks, exits to Postgres.
 */
export class AgentSession {
  private ready = false;
  /** Bus commands that arrive between subscribing and `welcome` (the agent wants welcome first). */
  private early: AgentCommand[] | undefined = [];
  private closed = false;
  private readonly jobs = new Map<string, HeldJob>();
  /** The agent's channel (BUS.md §5), subscribed from the upgrade on: by `hello` it is normally active. */
  private readonly subscribed: Promise<() => void>;
  /** §1.4 This connection's creation order among its agent's (connection-generation.ts), taken at the upgrade. */
  private readonly generationTaken: Promise<number>;
  private generation: number | undefined;
  /** What this connection writes as the agent's presence (presenceOwner); set with `generation`, before any write. */
  private owner: string | undefined;
  /** performance.now(), not Date.now(): a wall clock stepped forward (NTP) would otherwise make every socket look silent and the sweep terminate them all. */
  private lastFrameAt = performance.now();
  private readonly helloTimer: NodeJS.Timeout;
  /** Frames are handled one at a time, in arrival order (output before the exit that follows it). */
  private chain: Promise<void> = Promise.resolve();
  /** §1 What the agent announced in its hello (`secret_env`: it takes run.secretEnv). */
  private features = new Set<string>();
  /** SHELL.md §S5: this agent's shell frames to the bus and the recording. */
  private shells: ShellRelayHolder | undefined;

  constructor(
    readonly agentId: string,
    readonly connectionId: string,
    private readonly ws: WebSocket,
    private readonly deps: SessionDeps,
    private readonly onClosed: (session: AgentSession) => void,
  ) {
    this.helloTimer = setTimeout(() => this.close(AgentCloseCode.policy, 'no hello within 10 s'), HELLO_TIMEOUT_MS);
    // Subscribed now, while the agent's hello is on its way, not after it (one round trip fewer).
    // Commands arriving before `welcome` wait in `early`.
    this.subscribed = deps.bus.agentCommands(agentId, (msg) => this.onCommand(msg));
    this.subscribed.catch(() => {}); // a failed SUBSCRIBE is reported by the hello that waits on it (the session then closes)
    // In the same round trip as the SUBSCRIBE (another connection, sent now): no wait of its own.
    this.generationTaken = nextConnectionGeneration(deps.cp.redis, deps.cp.keys, agentId);
    this.generationTaken.catch(() => {}); // likewise reported by the hello
    ws.on('message', (data, isBinary) => {
      this.lastFrameAt = performance.now();
      // §5 The fast path: a heartbeat in the agents' own spelling needs no parse, no place in the
      // chain (it changes nothing the frames before it decide) and no Redis write of its own (the
      // writer batches). Any other spelling, and anything before `welcome`, takes the full path.
      if (!isBinary && this.ready && !this.closed && Buffer.isBuffer(data) && canonicalHeartbeatRunning(data) !== undefined) {
        return this.deps.presence.beat(this.agentId, this.owner!);
      }
      this.chain = this.chain.then(() => this.onFrame(data, isBinary)).catch((err: Error) => {
        deps.log.error({ err, agentId }, 'agent frame handling failed');
        this.close(AgentCloseCode.restart, 'server error; reconnect');
      });
    });
    ws.on('close', () => this.teardown());
    ws.on('error', () => this.teardown());
  }

  get silentForMs(): number {
    return performance.now() - this.lastFrameAt;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
    this.teardown();
  }

  terminate(): void {
    this.ws.terminate();
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.helloTimer);
    // Let go of the agent's channel, subscribed or still subscribing (unlisten is idempotent).
    void this.subscribed.then((unlisten) => unlisten(), () => {});
    // No owner yet: this connection never wrote the key (its generation comes before any write).
    const cleared = this.owner === undefined ? Promise.resolve() : this.deps.presence.clear(this.agentId, this.owner).catch(() => {});
    // Dashboards (BUS.md §10): offline once its presence is gone, if it was ever welcomed (online).
    if (this.ready) void cleared.then(() => markChanged(this.deps.cp, 'agents'));
    this.onClosed(this);
  }

  private shellHolder(): ShellRelayHolder {
    this.shells ??= new ShellRelayHolder(this.agentId, this.features, this.deps, () => this.close(AgentCloseCode.policy, 'shell frame for a session that is not this agent\'s'));
    return this.shells;
  }

  private send(msg: ServerToAgent): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private async onFrame(data: RawData, isBinary: boolean): Promise<void> {
    if (this.closed) return;
    // No copy on the output path: ws hands over a Buffer of its own (binaryType 'nodebuffer').
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (isBinary) {
      if (!this.ready) return this.close(AgentCloseCode.policy, 'output before hello');
      if (buf[0] === SHELL_OUTPUT_FRAME_KIND) {
        const why = this.shellHolder().output(buf);
        return why === undefined ? undefined : this.close(AgentCloseCode.policy, `bad shell frame: ${why}`);
      }
      const frame = decodeOutputFrame(buf);
      if (typeof frame === 'string') return this.close(AgentCloseCode.policy, `bad output frame: ${frame}`);
      return this.onOutput(frame);
    }
    let parsed: AgentToServer;
    try {
      const result = AgentToServer.safeParse(JSON.parse(buf.toString('utf8')));
      if (!result.success) return this.close(AgentCloseCode.policy, `bad frame: ${result.error.issues[0]?.message ?? 'invalid'}`.slice(0, 120));
      parsed = result.data;
    } catch {
      return this.close(AgentCloseCode.policy, 'frame is not JSON');
    }
    if (parsed.type === 'hello') return this.ready ? this.close(AgentCloseCode.policy, 'second hello') : this.onHello(parsed);
    if (!this.ready) return this.close(AgentCloseCode.policy, 'hello must come first');
    switch (parsed.type) {
      case 'heartbeat':
        return this.deps.presence.beat(this.agentId, this.owner!);
      case 'started':
        return this.onStarted(parsed.jobId, parsed.attempt);
      case 'exit':
        return this.onExit(parsed);
      case 'shell_attached':
      case 'shell_exit':
      case 'shell_error':
        return this.shellHolder().fromAgent(parsed);
    }
  }

  /**
   * §1 + §6: record who the agent is, tell it where to resume, what to abandon, what was lost.
   *
   * Round trips between `hello` and `welcome` (issue 16): the agent's channel was subscribed at
   * the upgrade (listenForCommands), so it is normally active already, and the connection's
   * generation taken with it; then ONE Postgres statement (recordHello), then the presence key and
   * the takeover sent together (one Redis round trip).
   */
  private async onHello(hello: AgentHello): Promise<void> {
    const { cp } = this.deps;
    clearTimeout(this.helloTimer);
    this.features = new Set(hello.features ?? []);
    // Subscribed before anything is read, so a dispatch or cancel published from then on is
    // either in what the statement reads or delivered on the channel (held until welcome).
    const [, generation] = await Promise.all([this.subscribed, this.generationTaken]);
    this.generation = generation;
    const owner = presenceOwner(generation, this.connectionId);
    this.owner = owner;
    if (this.closed) return;
    // Labels the agent reports (its --labels) replace its previous report, so reconnects never pile
    // keys up; they are kept apart from the registered ones, which win when shown (agentView). The
    // reserved workspace keys are dropped: an agent may not pass for a workspace's (a selector on
    // workspace-owner=<user> would send it that workspace's jobs).
    const recorded = await recordHello(cp.database.sql, this.agentId, hello, withoutReservedLabels(hello.labels ?? {}));

    const reported = new Set(hello.jobs.map((j) => j.jobId));
    const resume: { jobId: string; nextSeq: number }[] = [];
    const abandon: string[] = [];
    for (const j of hello.jobs) {
      const row = recorded.reported.get(reportedKey(j.jobId, j.attempt));
      // §6 fencing: the server already ended it, moved past this attempt (a retry: the job is
      // `queued` again, or runs a later attempt), or never gave it to this agent.
      if (!row || row.agentId !== this.agentId || isTerminal(row.status) || row.status !== 'running' || row.attempt !== j.attempt || row.storedPrefix === null) {
        abandon.push(j.jobId);
        continue;
      }
      const nextSeq = row.storedPrefix;
      this.jobs.set(j.jobId, { attempt: j.attempt, acks: new AckTracker(nextSeq), pending: new Set(), ackScheduled: false });
      resume.push({ jobId: j.jobId, nextSeq });
    }

    // Gone while Postgres answered: no presence and no takeover for a socket nobody holds (the
    // takeover would close a newer connection of the agent).
    if (this.closed) return;
    // Online, and older connections of this agent (on any node) told to close: both at once.
    // Without the takeover taken by Redis, do not welcome.
    const [owns, takenOver] = await Promise.all([
      this.deps.presence.mark(this.agentId, owner),
      publishAgentCommand(cp, this.agentId, { type: 'takeover', connectionId: this.connectionId, generation }),
    ]);
    // Closed meanwhile: its teardown's clear may have run before the mark; clear again, or the key
    // of a socket nobody holds would read online for two heartbeats.
    if (this.closed) return void this.deps.presence.clear(this.agentId, owner).catch(() => {});
    // LOUD: a NEWER connection of this agent holds its presence: this one's hello came late (the
    // agent gave up on it and connected again). Welcoming it would leave the agent with a socket
    // it no longer reads; the takeover just published is ignored by the newer one (onCommand).
    if (!owns) return this.close(AgentCloseCode.replaced, 'replaced by a newer connection of this agent');
    if (!takenOver) throw new Error('could not publish the takeover of this agent (Redis did not take it)');
    this.ready = true;
    this.send({ type: 'welcome', v: PROTOCOL_VERSION, agentId: this.agentId, heartbeatMs: cp.limits.heartbeatMs, resume, abandon });
    markChanged(cp, 'agents'); // dashboards (BUS.md §10): online, with what its hello reported
    const early = this.early ?? [];
    this.early = undefined;
    for (const msg of early) this.onCommand(msg);

    // Jobs this agent had confirmed but no longer reports died with it (it restarted): lost at once.
    for (const v of recorded.accepted) {
      if (reported.has(v.id)) continue;
      const message = 'the agent came back without the job (it restarted while the job ran)';
      await transition(cp, v.id, { kind: 'end', from: 'running', attempt: v.attempt, status: 'lost', error: { code: 'agent_restarted', message } });
    }
    // §6: cancels requested while the agent was away.
    for (const c of recorded.stops) {
      if (this.jobs.has(c.id)) this.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId: c.id, graceMs: c.graceMs ?? DEFAULT_CANCEL_GRACE_MS });
    }
    // SHELL.md §S4: sessions it no longer holds (it restarted) are ended, once no open of one opened
    // before this welcome can still be on its way (shell-relay-holder.ts probeOpenSessions).
    // LOUD: "before" on Postgres' clock, the one that wrote opened_at, never this node's: a node
    // whose clock is ahead would count sessions opened after the welcome, their shell_open maybe
    // still on its way, and end them under their users. The wait below is elapsed time (a timer),
    // the same on every clock.
    const openedBefore = recorded.helloAt;
    setTimeout(() => {
      if (this.closed) return;
      this.shellHolder().probeOpenSessions((frame) => this.send(frame), openedBefore).catch((err: Error) => {
        cp.log.warn({ err: err.message, agentId: this.agentId }, 'could not ask the agent which shell sessions it still holds');
      });
    }, SHELL_OPEN_TIMEOUT_MS + 5_000).unref();
  }

  /** Commands for this agent from workers and API nodes (BUS.md §5, `agent:{id}`). */
  private onCommand(msg: AgentCommand): void {
    if (this.early) {
      this.early.push(msg);
      return;
    }
    switch (msg.type) {
      case 'run': {
        const { type: _type, v: _v, sealedSecretEnv, ...run } = msg;
        let secretEnv: Record<string, string> | undefined;
        if (sealedSecretEnv !== undefined) {
          const opened = this.openSecretEnv(msg.jobId, sealedSecretEnv);
          if ('error' in opened) return void this.refuseRun(msg.jobId, msg.attempt, opened.error);
          secretEnv = opened.secretEnv;
        }
        // No HeldJob from a `run`: the agent's `started` says which attempt it holds (see HeldJob).
        return this.send({ type: 'run', v: PROTOCOL_VERSION, ...run, ...(secretEnv && { secretEnv }) });
      }
      case 'cancel':
        return this.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId: msg.jobId, graceMs: msg.graceMs });
      case 'abandon':
        // Declared lost while the agent was away, but it came back to this node just before the
        // verdict: refuse the job's late output (heldJob re-reads the status) and kill it.
        this.jobs.delete(msg.jobId);
        return this.send({ type: 'abandon', v: PROTOCOL_VERSION, jobId: msg.jobId });
      case 'takeover':
        // §1.4 Only a NEWER connection takes over. LOUD: a late takeover of an older one (its
        // handshake finished after ours: the agent had given up on it) must not close ours, the
        // socket the agent uses. A takeover without a generation (a node of the version before)
        // closes every other connection, as it always did.
        if (msg.connectionId === this.connectionId) return;
        if (msg.generation !== undefined && this.generation !== undefined && msg.generation < this.generation) return;
        return this.close(AgentCloseCode.replaced, 'replaced by a newer connection of this agent');
      case 'revoke':
        return this.close(AgentCloseCode.revoked, 'agent revoked');
      case 'token_rotated':
        return this.close(AgentCloseCode.tokenRotated, 'agent token rotated; reconnect with the new one');
      case 'shell_open':
      case 'shell_input':
      case 'shell_resize':
      case 'shell_ack':
      case 'shell_detach': {
        const frame = this.shellHolder().toAgent(msg);
        if (frame) this.send(frame);
        return;
      }
    }
  }

  /**
   * §2 A job's secretEnv, sealed as the worker forwarded it (BUS.md §5), opened for the `run` frame:
   * in the clear only on this authenticated socket. Not for an agent that did not announce
   * `secret_env` (it would drop the field and run the command without its secrets, and not mask
   * them), nor without this node's key. Messages never quote a value.
   */
  private openSecretEnv(jobId: string, sealed: string): { secretEnv: Record<string, string> } | { error: { code: string; message: string } } {
    const box = this.deps.cp.secretBox;
    if (!this.features.has(FEATURE_SECRET_ENV)) {
      return { error: { code: 'secrets_unsupported', message: `the job has secretEnv and agent ${this.agentId} is too old to take it (its hello does not announce ${FEATURE_SECRET_ENV}): upgrade the agent` } };
    }
    if (!box) return { error: { code: 'secrets_unavailable', message: 'the job has secretEnv and the API node holding its agent has no VMO_SECRET_KEY to open it (set the same key on every API node and worker)' } };
    try {
      return { secretEnv: openSecretEnv(box, jobId, Buffer.from(sealed, 'base64')) };
    } catch (err) {
      return { error: { code: 'secrets_unavailable', message: `the job's secrets could not be opened on the API node holding its agent: ${(err as Error).message}` } };
    }
  }

  /** The job cannot be sent to this agent: end it here, before it runs (the worker stops re-sending when it hears the end). */
  private async refuseRun(jobId: string, attempt: number, error: { code: string; message: string }): Promise<void> {
    this.deps.log.warn({ jobId, agentId: this.agentId, code: error.code }, 'job not sent to its agent');
    await transition(this.deps.cp, jobId, { kind: 'end', from: 'running', attempt, status: 'failed', error }).catch((err: Error) =>
      // The worker re-sends `run` every few seconds: the next one tries again.
      this.deps.log.warn({ err: err.message, jobId }, 'could not end a job its agent cannot take'),
    );
  }

  /** §2: the agent runs it. Record that (so a later restart of the agent counts as `lost`). */
  private async onStarted(jobId: string, attempt: number): Promise<void> {
    const { cp } = this.deps;
    const accepted = await markJobAccepted(cp.database.sql, jobId, attempt, this.agentId);
    if (!accepted) {
      // Not this job's running attempt on this agent (ended, or a stale attempt the agent still
      // holds while a retry wants the next one): it kills it; the worker's next `run` starts the
      // current attempt once the agent has let go of the old one.
      this.jobs.delete(jobId);
      return this.send({ type: 'abandon', v: PROTOCOL_VERSION, jobId });
    }
    const held = this.jobs.get(jobId);
    if (!held || held.attempt !== attempt) {
      // First word of this attempt on this socket: acknowledge from what is stored of it (nothing, for a fresh one).
      const stored = await storedPrefixLength(cp.database.sql, jobId, attempt);
      this.jobs.set(jobId, { attempt, acks: new AckTracker(stored), pending: new Set(), ackScheduled: false });
    }
    // Not awaited (it never rejects): it only wakes the worker so it stops re-sending `run`, which
    // it also learns from Postgres. Awaiting it held this agent's frame chain one Redis round trip
    // per job start, and a short job's first output, arriving meanwhile, waited behind it.
    void publishJobEvent(cp, jobId, { type: 'started', attempt });
    if (accepted.stopReason) this.send({ type: 'cancel', v: PROTOCOL_VERSION, jobId, graceMs: accepted.graceMs ?? DEFAULT_CANCEL_GRACE_MS });
  }

  /** §3: store, then acknowledge cumulatively once durable. */
  private async onOutput(frame: OutputFrame): Promise<void> {
    const job = await this.heldJob(frame.jobId);
    if (!job) return; // not a running job of this agent: late output of an ended job is refused
    const append = this.deps.sink.append([{ jobId: frame.jobId, attempt: job.attempt, seq: frame.seq, stream: frame.stream, data: frame.data }]);
    const tracked: Promise<void> = append.then(
      () => {
        job.pending.delete(tracked);
        if (job.acks.markDurable(frame.seq)) this.scheduleAck(frame.jobId, job);
      },
      (err: Error) => {
        // The chunk is not stored and will never be acked on this socket; the agent resends
        // unacknowledged output only after a reconnect, so make it reconnect.
        job.pending.delete(tracked);
        this.deps.log.warn({ err: err.message, jobId: frame.jobId }, 'output append failed; asking the agent to reconnect');
        this.close(1011, 'could not store output; reconnect and resend');
      },
    );
    job.pending.add(tracked);
  }

  private scheduleAck(jobId: string, job: HeldJob): void {
    if (job.ackScheduled) return;
    job.ackScheduled = true;
    queueMicrotask(() => {
      job.ackScheduled = false;
      this.send({ type: 'ack', v: PROTOCOL_VERSION, jobId, seq: job.acks.acked });
    });
  }

  /** §3: end the job once every chunk below `nextSeq` is durable. */
  private async onExit(exit: AgentExit): Promise<void> {
    const { cp } = this.deps;
    const job = await this.heldJob(exit.jobId);
    if (!job || job.attempt !== exit.attempt) return this.send({ type: 'exit_ack', v: PROTOCOL_VERSION, jobId: exit.jobId });
    while (job.pending.size > 0) await Promise.all(job.pending);
    if (job.acks.acked < exit.nextSeq - 1) {
      // Chunks are missing (a resend is under way or will come after a reconnect): no ack yet.
      this.deps.log.warn({ jobId: exit.jobId, acked: job.acks.acked, nextSeq: exit.nextSeq }, 'exit before all output; waiting for resend');
      return;
    }
    await transition(cp, exit.jobId, { kind: 'exit', attempt: exit.attempt, exit });
    this.jobs.delete(exit.jobId);
    this.send({ type: 'exit_ack', v: PROTOCOL_VERSION, jobId: exit.jobId });
  }

  /**
   * The job if the agent has confirmed on this socket (hello or `started`) the attempt it holds.
   * LOUD: never looked up in Postgres for a job with no entry: the row's running attempt may be a
   * later one than the agent's (a retry), and frames of the agent's would be filed under it.
   */
  private async heldJob(jobId: string): Promise<HeldJob | undefined> {
    return this.jobs.get(jobId);
  }
}
