import type { JobRow } from '@vmo/shared/jobs';
import type { LogSink } from '@vmo/shared/logsink';

/** Why a running job is being stopped; the abort signal's `reason`. */
export interface StopRequest {
  reason: 'canceled' | 'timed_out';
  graceMs: number;
}

export interface ExecutionRequest {
  job: JobRow;
  /** Aborted (reason: StopRequest) on cancel or timeout: SIGTERM the job, SIGKILL after the grace. */
  stop: AbortSignal;
  /**
   * Aborted when this worker shuts down. Jobs that do not live in this process (agent jobs) detach
   * at once: another worker, the gateway and the janitor carry them to their end.
   */
  detach: AbortSignal;
  sink: LogSink;
  limits: { maxOutputBytes: number; tailBytes: number };
  /**
   * True when this worker has just moved the job `queued → running` (after checking an agent
   * target's presence): `job` is the row as that update returned it, so an executor need not
   * read it again before its first step. False on a re-attach.
   */
  fresh: boolean;
  /**
   * Settles once Postgres has been asked whether a cancel was recorded before this worker could
   * hear of it (then `stop` is already aborted). Executors that start something remote (an agent
   * dispatch, an SSH exec) await it first, alongside their own setup, so a job canceled at the
   * moment it started is never started there. The local executor spawns at once: it is killed
   * within the same millisecond if so.
   */
  cancelChecked: Promise<void>;
  /**
   * The job's secretEnv in the clear, for the executors that start the command themselves (local,
   * SSH): set by withJobSecrets (with-job-secrets.ts) when the job has secrets. The command gets it
   * as environment variables and the output is masked with it (OutputPump). Never logged, never
   * written anywhere.
   */
  secretEnv?: Record<string, string>;
}

export type ExecutionResult =
  /** The process ended here; the worker writes the job's end. */
  | {
      kind: 'exited';
      exitCode: number | null;
      signal: string | null;
      truncated: boolean;
      error?: { code: string; message: string };
      /** Signalled before it exited (see JobProcessExit.stopped); absent when the executor cannot tell. */
      stopped?: boolean;
    }
  /** Someone else already wrote the end (the gateway for agent jobs, or a `lost` verdict). */
  | { kind: 'ended' }
  /** The worker is shutting down and the job goes on elsewhere: leave it as it is. */
  | { kind: 'detached' };

/**
 * One interface for the three places a job runs (local, ssh, agent). Executors write output
 * through the log sink, obey `stop`, and know nothing of HTTP or subscribers.
 */
export interface Executor {
  run(req: ExecutionRequest): Promise<ExecutionResult>;
}
