import type { JobStatus, TerminalStatus } from '../../domain/job-status.ts';

export interface JobError {
  code: string;
  message: string;
}

/** How a job's process ended, as its holder (a worker, the SSH executor, an agent) saw it. */
export interface ProcessExit {
  exitCode: number | null;
  signal: string | null;
  error?: JobError | null;
  truncated: boolean;
  /**
   * Whether the process holder signalled the process before it exited. False: it exited on its
   * own first, and a cancel or timeout recorded since does not make it `canceled`/`timed_out`.
   * Absent (an older agent, the SSH executor): the recorded reason wins, as it always did.
   */
  stopped?: boolean;
}

/** What is known about a job's end besides its status. */
export interface EndDetails {
  exitCode?: number | null;
  signal?: string | null;
  error?: JobError | null;
  outputTruncated?: boolean;
}

/**
 * Every change of `jobs.status` there is, by what causes it. Each has one statement in `sql/`,
 * and the statuses it may move between are checked against the table (transitions.ts) before
 * anything is written.
 */
export type JobChange =
  /**
   * `queued → running`: a worker takes the job and bumps the attempt (the fencing token).
   * `checkedAgentId`: the agent whose presence the caller has just checked, or null when it
   * checked none; an agent job then does not match, so no agent job starts without that check.
   */
  | { kind: 'start'; workerId: string; checkedAgentId: string | null }
  /** `queued → canceled | timed_out`: stopped before it ever ran; the reason is recorded as well. */
  | { kind: 'stop_queued'; reason: 'canceled' | 'timed_out' }
  /** `running → status`, fenced by attempt: a stale worker or a late agent can never end a restarted job. */
  | ({ kind: 'end'; from: 'running'; attempt: number; status: TerminalStatus } & EndDetails)
  /** `queued → status`: it cannot start (`attempt`, when given, fences as well). */
  | ({ kind: 'end'; from: 'queued'; attempt?: number; status: TerminalStatus } & EndDetails)
  /**
   * `running → succeeded | failed | canceled | timed_out`, decided in the statement from the exit
   * and the recorded stop reason (sql/record-exit.ts says how), fenced by attempt.
   */
  | { kind: 'exit'; attempt: number; exit: ProcessExit }
  /**
   * `running → canceled | timed_out` (the recorded reason): an agent job stopped before its agent
   * confirmed the start; it is never dispatched again. Fenced by attempt.
   */
  | { kind: 'end_unaccepted'; attempt: number }
  /**
   * `running → queued` or `queued → queued` (issue 14): an attempt that would have ended as
   * `outcome` goes on record and the job waits `delayMs` for attempt number `attempt + 1`.
   * Made by transition() itself from an `exit` or `end` that meets the job's retry policy
   * (retry.ts); fenced by status, the job's attempt (`fence`) and the stop reason read with
   * the policy, so a cancel recorded meanwhile makes it lose (and the end is written instead).
   */
  | RetryChange;

/** See JobChange `retry`. */
export interface RetryChange {
  kind: 'retry';
  from: 'running' | 'queued';
  /** jobs.attempt as read: the row must still have it. */
  fence: number;
  /** jobs.cancel_reason as read (`timed_out`, or null): the row must still have it. */
  cancelReason: string | null;
  /** The number of the attempt that is over (fence for `running`, fence + 1 for an attempt that never started). */
  attempt: number;
  outcome: { status: 'failed' | 'timed_out' | 'lost'; exitCode: number | null; signal: string | null; error: JobError | null; truncated: boolean };
  delayMs: number;
}

export type JobChangeKind = JobChange['kind'];

/**
 * A change of many jobs at once: the `queued` children of one fleet run (runs/roll-up.ts,
 * runs/cancel-run.ts). One statement in `sql/` for the lot (a run may have 10,000 children), and
 * every job it changed is announced as a single transition would be: its `end` event, then the
 * observers, once each.
 */
export type RunChildrenChange =
  /**
   * `queued → skipped`, held or released: the run will not start them (its error budget is spent,
   * a canary failed). Only children already `running` go on.
   */
  | { kind: 'skip_queued'; error: JobError }
  /** `queued → canceled`, held or released: the run was canceled, so none of them may start. */
  | { kind: 'cancel_queued' };

export type RunChildrenChangeKind = RunChildrenChange['kind'];

/** The status a bulk change moves from, and the one it moves to. */
export function edgesOfRunChildren(change: RunChildrenChange): { from: 'queued'; to: TerminalStatus } {
  return { from: 'queued', to: change.kind === 'skip_queued' ? 'skipped' : 'canceled' };
}

/** The status a change moves from, and every status it may move to. */
export function edgesOf(change: JobChange): { from: JobStatus; to: readonly JobStatus[] } {
  switch (change.kind) {
    case 'start':
      return { from: 'queued', to: ['running'] };
    case 'stop_queued':
      return { from: 'queued', to: [change.reason] };
    case 'end':
      return { from: change.from, to: [change.status] };
    case 'exit':
      return { from: 'running', to: ['succeeded', 'failed', 'canceled', 'timed_out'] };
    case 'end_unaccepted':
      return { from: 'running', to: ['canceled', 'timed_out'] };
    case 'retry':
      return { from: change.from, to: ['queued'] };
  }
}
