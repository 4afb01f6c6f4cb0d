import { MaskedOutput, OutputRecorder, type RecordedChunk } from '@vmo/shared/output';
import { spawnJobProcess, type JobProcess, type JobProcessExit, type RunAsUser } from '@vmo/shared/process';
import {
  PROTOCOL_VERSION,
  encodeOutputFrame,
  type AgentExit,
  type AgentHello,
  type AgentToServer,
  type ServerAck,
  type ServerCancel,
  type ServerExitAck,
  type ServerRun,
  type ServerWelcome,
} from '@vmo/shared/protocol';
import { OutputBuffer } from './output-buffer.ts';
import type { Logger } from './logger.ts';

/** Where frames go. Sends are dropped while not ready: everything needed is resent after `welcome`. */
export interface Outbox {
  readonly ready: boolean;
  sendJson(msg: AgentToServer): void;
  sendOutput(frame: Buffer): void;
}

interface HeldJob {
  readonly jobId: string;
  readonly attempt: number;
  readonly proc: JobProcess;
  readonly recorder: OutputRecorder;
  /** The job's secretEnv masking (§2), in front of the recorder; absent when it has none. */
  readonly masked: MaskedOutput | undefined;
  /** Set when the process has ended; the job is held until the server's `exit_ack`. */
  exit: AgentExit | null;
  /** Set when the server let go of the job: anything it still produces is discarded. */
  forgotten: boolean;
}

/**
 * The jobs this agent holds (PROTOCOL.md §2–§4, §6): from `run` until `exit_ack` (or `abandon`).
 * A job outlives any one connection; its output waits in the OutputBuffer until acknowledged.
 */
/** How many forgotten jobs are remembered against a late duplicate `run`. */
const FINISHED_MEMORY = 10_000;

export class JobRunner {
  private readonly jobs = new Map<string, HeldJob>();
  /**
   * Jobs this agent ran and has forgotten (exit acknowledged, or abandoned), newest last. A `run`
   * that was already in flight when the job ended must not start it again.
   */
  private readonly finished = new Map<string, number>();
  private readonly buffer: OutputBuffer;
  private acceptingRuns = true;

  constructor(
    bufferBytes: number,
    private readonly outbox: Outbox,
    private readonly log: Logger,
    /** Jobs run as this user (`--run-as`), else as the agent's own. */
    private readonly runAs?: RunAsUser,
  ) {
    this.buffer = new OutputBuffer(bufferBytes, (paused) => this.applyBackpressure(paused));
  }

  get runningCount(): number {
    let n = 0;
    for (const job of this.jobs.values()) if (!job.exit) n++;
    return n;
  }
  get heldCount(): number {
    return this.jobs.size;
  }
  get bufferedBytes(): number {
    return this.buffer.bytes;
  }

  /** §1 `hello.jobs`: everything held, so the server can resume or fence it. */
  heldJobs(): AgentHello['jobs'] {
    return [...this.jobs.values()].map((job) => ({
      jobId: job.jobId,
      attempt: job.attempt,
      nextSeq: job.recorder.nextSeq,
      ...(job.exit && { exit: { exitCode: job.exit.exitCode, signal: job.exit.signal } }),
    }));
  }

  /** §2 */
  run(msg: ServerRun): void {
    const held = this.jobs.get(msg.jobId);
    if (held) {
      // LOUD: never a second process for one job; the server repeats `run` until it sees `started`.
      if (held.attempt !== msg.attempt) this.log.warn('run for a held job with another attempt', { jobId: msg.jobId, held: held.attempt, asked: msg.attempt });
      this.sendStarted(held);
      return;
    }
    if (this.finished.get(msg.jobId) === msg.attempt) {
      this.log.warn('run for a job that already ran here: not started again', { jobId: msg.jobId, attempt: msg.attempt });
      return;
    }
    if (!this.acceptingRuns) {
      this.log.warn('draining: run refused', { jobId: msg.jobId });
      return;
    }
    let job: HeldJob | undefined;
    const recorder = new OutputRecorder({ maxBytes: msg.maxOutputBytes, tailBytes: msg.tailBytes }, (chunk) => job && this.onChunk(job, chunk));
    // LOUD: secret values are masked before the recorder numbers the bytes: what is buffered, sent
    // and resent is the masked output, never the secret (§2).
    const secrets = msg.secretEnv && Object.keys(msg.secretEnv).length > 0 ? msg.secretEnv : undefined;
    const masked = secrets ? new MaskedOutput(Object.values(secrets), (stream, data) => recorder.write(stream, data)) : undefined;
    const env = secrets ? { ...msg.env, ...secrets } : msg.env;
    const proc = spawnJobProcess({ jobId: msg.jobId, command: msg.command, env, cwd: msg.cwd, runAs: this.runAs }, (stream, data) =>
      masked ? masked.write(stream, data) : recorder.write(stream, data),
    );
    job = { jobId: msg.jobId, attempt: msg.attempt, proc, recorder, masked, exit: null, forgotten: false };
    this.jobs.set(job.jobId, job);
    if (this.buffer.paused) proc.pause();
    this.log.info('job started', { jobId: job.jobId, attempt: job.attempt, pid: proc.pid });
    // A spawn that failed (bad cwd) still answers `started` (pid null) so the server stops
    // repeating `run`; the `exit` with `error.code = spawn_failed` follows at once.
    this.sendStarted(job);
    const started = job;
    void proc.exited.then((result) => this.onProcessEnd(started, result));
  }

  /** §3 Cumulative: everything up to `seq` is durable on the server. */
  ack(msg: ServerAck): void {
    this.buffer.ack(msg.jobId, msg.seq);
  }

  /** §3 The server recorded the exit: the job is over for both sides. */
  exitAck(msg: ServerExitAck): void {
    const job = this.jobs.get(msg.jobId);
    if (!job) return;
    if (!job.exit) {
      this.log.warn('exit_ack for a job still running; ignored', { jobId: msg.jobId });
      return;
    }
    this.forget(job);
  }

  /** §4 */
  cancel(msg: ServerCancel): void {
    const job = this.jobs.get(msg.jobId);
    if (!job || job.exit) return;
    this.log.info('canceling job', { jobId: msg.jobId, graceMs: msg.graceMs });
    job.proc.stop(msg.graceMs);
  }

  /** §6 fencing: the server already ended this job; its output would be refused. */
  abandon(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job) return;
    this.log.warn('job abandoned by the server: killing it', { jobId });
    job.proc.kill();
    // Keep reading (into the void) so the pipes reach EOF and the process's handles are freed.
    job.proc.resume();
    this.forget(job);
  }

  /**
   * §6 After `welcome`: fence, then resend each job's buffered output from the first seq the
   * server lacks, then its pending exit. Runs synchronously, so no live chunk can overtake it.
   */
  resume(welcome: ServerWelcome): void {
    for (const jobId of welcome.abandon) this.abandon(jobId);
    const resumeAt = new Map(welcome.resume.map((r) => [r.jobId, r.nextSeq]));
    for (const job of this.jobs.values()) {
      const from = resumeAt.get(job.jobId);
      if (from === undefined) this.log.warn('welcome did not say where to resume; resending all buffered output', { jobId: job.jobId });
      // The server holds the prefix below `from` (stored = durable): as good as an ack.
      else if (from > 0) this.buffer.ack(job.jobId, from - 1);
      const chunks = this.buffer.from(job.jobId, from ?? 0);
      const first = chunks[0]?.seq ?? job.recorder.nextSeq;
      if (from !== undefined && first > from) {
        this.log.error('server asks for output it had already acknowledged; it cannot be resent', { jobId: job.jobId, from, firstBuffered: first });
      }
      for (const chunk of chunks) this.sendChunk(job.jobId, chunk);
      if (job.exit) this.outbox.sendJson(job.exit);
    }
  }

  /** §7: take no new `run`. */
  refuseNewRuns(): void {
    this.acceptingRuns = false;
  }

  cancelAll(graceMs: number): void {
    for (const job of this.jobs.values()) if (!job.exit) job.proc.stop(graceMs);
  }

  /** The agent is going away for good: leave no process behind. */
  killAll(): void {
    for (const job of [...this.jobs.values()]) this.abandon(job.jobId);
  }

  private onChunk(job: HeldJob, chunk: RecordedChunk): void {
    if (job.forgotten) return;
    // LOUD: buffer first, send second. A chunk is only ever dropped by an ack (or the server
    // letting go of the job); the socket may die right after `send`.
    this.buffer.add(job.jobId, chunk);
    this.sendChunk(job.jobId, chunk);
  }

  private sendChunk(jobId: string, chunk: RecordedChunk): void {
    if (this.outbox.ready) this.outbox.sendOutput(encodeOutputFrame({ jobId, seq: chunk.seq, stream: chunk.stream, data: chunk.data }));
  }

  private onProcessEnd(job: HeldJob, result: JobProcessExit): void {
    if (job.forgotten) return;
    job.masked?.flush(); // what was held back as a possible beginning of a secret
    job.recorder.finish(); // emits the kept tail and the truncation marker, if any
    job.exit = {
      type: 'exit',
      v: PROTOCOL_VERSION,
      jobId: job.jobId,
      attempt: job.attempt,
      exitCode: result.exitCode,
      signal: result.signal,
      nextSeq: job.recorder.nextSeq,
      truncated: job.recorder.truncated,
      stopped: result.stopped,
      ...(result.error && { error: result.error }),
    };
    this.log.info('job ended', { jobId: job.jobId, exitCode: result.exitCode, signal: result.signal, error: result.error?.message });
    if (this.outbox.ready) this.outbox.sendJson(job.exit);
  }

  private sendStarted(job: HeldJob): void {
    if (this.outbox.ready) this.outbox.sendJson({ type: 'started', v: PROTOCOL_VERSION, jobId: job.jobId, attempt: job.attempt, pid: job.proc.pid ?? null });
  }

  private forget(job: HeldJob): void {
    job.forgotten = true;
    this.jobs.delete(job.jobId);
    this.finished.set(job.jobId, job.attempt);
    if (this.finished.size > FINISHED_MEMORY) this.finished.delete(this.finished.keys().next().value!);
    this.buffer.dropJob(job.jobId);
  }

  /** §3: one bound for all jobs, so a full buffer pauses every job still reading its pipes. */
  private applyBackpressure(paused: boolean): void {
    this.log.debug(paused ? 'output buffer full: pausing jobs' : 'output buffer drained: resuming jobs', { bytes: this.buffer.bytes });
    for (const job of this.jobs.values()) {
      // A job whose shell exited may still be draining its pipes: it has no `exit` yet either.
      if (job.exit) continue;
      if (paused) job.proc.pause();
      else job.proc.resume();
    }
  }
}
