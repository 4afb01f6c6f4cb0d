import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { daysBefore, type RetentionPolicy } from '../domain/retention.ts';
import { deleteJobRows, deleteRunRows } from './delete-jobs.ts';
import { deleteOutputRows } from './delete-output-rows.ts';
import { dueJobIds, dueRunIds } from './due-jobs.ts';
import { claimOutputExpiry, flagOutputExpired } from './expire-output.ts';
import { pruneAuditEvents, pruneScheduleFires } from './prune-history.ts';
import { deleteShellOutputRows, deleteShellSessionRows, dueShellSessions } from './shell-sessions.ts';

/**
 * The most rows one statement of a pass touches. Each statement is its own short transaction, so
 * no lock (row locks on the rows it deletes, nothing on the table beyond what an INSERT also
 * takes) is held for longer than one batch: bench/src/retention-measure.ts measured what a
 * streaming job sees (README, Retention).
 */
export interface RetentionBatches {
  /** Jobs (and runs) deleted per statement, and jobs whose output is claimed per statement. */
  jobs: number;
  /** job_output rows per statement. */
  outputRows: number;
  /** schedule_fires and audit_events rows per statement. */
  historyRows: number;
}
export const RETENTION_BATCHES: RetentionBatches = { jobs: 500, outputRows: 5_000, historyRows: 5_000 };

/** What a pass deleted, and how: `statements` and `largest` (the most rows of one statement) per kind. */
export interface RetentionCounts {
  /** Another worker's pass was under way: this one did nothing. */
  skipped: boolean;
  /** The pass stopped at its budget (or was stopped) with work left: run another soon. */
  more: boolean;
  jobs: number;
  runs: number;
  attempts: number;
  outputRows: number;
  /** Jobs whose output alone expired (VMO_OUTPUT_RETENTION_DAYS): they stay, `outputExpired`. */
  outputExpiredJobs: number;
  scheduleFires: number;
  auditEvents: number;
  /** Ended shell sessions deleted (past VMO_RETENTION_DAYS), and their recorded rows (and those of sessions past VMO_OUTPUT_RETENTION_DAYS). */
  shellSessions: number;
  shellOutputRows: number;
  statements: Record<BatchKind, number>;
  largest: Record<BatchKind, number>;
}
type BatchKind = 'jobs' | 'runs' | 'outputRows' | 'outputClaims' | 'scheduleFires' | 'auditEvents' | 'shellSessions' | 'shellOutputRows';

export interface RetentionPassOptions {
  policy: RetentionPolicy;
  /** The clock (tests move it instead of waiting). */
  now?: Date;
  batches?: Partial<RetentionBatches>;
  /** Stop after about this long (between two statements) and say `more`. */
  budgetMs?: number;
  /** Pause between two statements: other writers' turn at the disk and the WAL. */
  pauseMs?: number;
  signal?: AbortSignal;
}

/** One key for every worker: `pg_try_advisory_lock(hashtextextended('vmo.retention', 0))`. */
const LOCK_KEY = 'vmo.retention';

/**
 * One retention pass (issue 14), run by every worker's retention loop: delete what has passed its
 * retention at `now`, in bounded batches, each its own short statement. In order:
 * 1. ended jobs past VMO_RETENTION_DAYS (or their retainDays): flagged, their output deleted
 *    `outputRows` at a time, then the rows with their attempts (`jobs` per transaction);
 * 2. ended runs past it whose children are gone;
 * 3. the output alone of ended jobs on the defaults past VMO_OUTPUT_RETENTION_DAYS;
 * 4. settled schedule fires past VMO_RETENTION_DAYS; 5. audit rows past VMO_AUDIT_RETENTION_DAYS;
 * 6. ended shell sessions past VMO_RETENTION_DAYS with their recorded bytes, and the bytes alone of
 *    those past VMO_OUTPUT_RETENTION_DAYS (shell-sessions.ts).
 *
 * Any number of workers: a pass runs only while it holds a session advisory lock (on a reserved
 * connection: a worker that dies lets it go with its connection); the others' passes skip. Every
 * statement is also safe on its own (deleting what is already gone deletes nothing), so even two
 * passes at once would only do the same work twice. Never a status write: it deletes ended rows.
 */
export async function runRetentionPass(cp: Pick<ControlPlane, 'database' | 'log'>, opts: RetentionPassOptions): Promise<RetentionCounts> {
  const counts = emptyCounts();
  const { policy } = opts;
  if (policy.jobDays === null && policy.outputDays === null && policy.auditDays === null) return counts;
  const sql = cp.database.sql;
  const now = opts.now ?? new Date();
  const batches = { ...RETENTION_BATCHES, ...opts.batches };
  const deadline = Date.now() + (opts.budgetMs ?? Number.POSITIVE_INFINITY);
  const stop = () => opts.signal?.aborted === true || Date.now() >= deadline;
  const between = async () => {
    if (opts.pauseMs) await sleep(opts.pauseMs);
  };
  const tally = (kind: BatchKind, n: number) => {
    counts.statements[kind] += 1;
    counts.largest[kind] = Math.max(counts.largest[kind], n);
  };
  /**
   * Delete the output of these jobs, a batch at a time; false when stopped before it was all gone.
   * `untilDone`: past the budget too, stopped only by the signal (a shutdown): see step 3.
   */
  const deleteOutputOf = async (ids: string[], untilDone = false) => {
    for (;;) {
      const n = await deleteOutputRows(sql, ids, batches.outputRows);
      tally('outputRows', n);
      counts.outputRows += n;
      if (n < batches.outputRows) return true;
      if (untilDone ? opts.signal?.aborted === true : stop()) return false;
      await between();
    }
  };

  const lock = await sql.reserve();
  try {
    const [held] = await lock<{ ok: boolean }[]>`select pg_try_advisory_lock(hashtextextended(${LOCK_KEY}, 0)) as ok`;
    if (!held?.ok) return { ...counts, skipped: true };
    try {
      // 1. Jobs past their retention, with everything they own.
      for (;;) {
        if (stop()) return { ...counts, more: true };
        const ids = await dueJobIds(sql, { now, defaultDays: policy.jobDays, limit: batches.jobs });
        if (ids.length === 0) break;
        await flagOutputExpired(sql, ids, now);
        if (!(await deleteOutputOf(ids))) return { ...counts, more: true };
        const deleted = await deleteJobRows(sql, ids);
        tally('jobs', deleted.jobs);
        counts.jobs += deleted.jobs;
        counts.attempts += deleted.attempts;
        if (deleted.jobs === 0) break; // none could go (never in practice): do not pick the same ones again
        await between();
      }
      // 2. Runs past theirs, once their children are gone.
      for (;;) {
        if (stop()) return { ...counts, more: true };
        const ids = await dueRunIds(sql, { now, defaultDays: policy.jobDays, limit: batches.jobs });
        if (ids.length === 0) break;
        const n = await deleteRunRows(sql, ids);
        tally('runs', n);
        counts.runs += n;
        if (n === 0) break; // a child appeared since (never in practice): leave it for the next pass
        await between();
      }
      // 3. Output alone (the jobs stay), where it expires before its job.
      if (policy.outputDays !== null && (policy.jobDays === null || policy.outputDays < policy.jobDays)) {
        const cutoff = daysBefore(now, policy.outputDays);
        for (;;) {
          if (stop()) return { ...counts, more: true };
          const ids = await claimOutputExpiry(sql, { now, cutoff, limit: batches.jobs });
          tally('outputClaims', ids.length);
          if (ids.length === 0) break;
          counts.outputExpiredJobs += ids.length;
          // LOUD: claimed jobs are no longer found by the claim, so their rows are deleted now, past
          // the budget if need be: a pass stopped here by a shutdown (or a worker killed) leaves the
          // rest, never shown (the flag is set) and deleted with the job at VMO_RETENTION_DAYS.
          if (!(await deleteOutputOf(ids, true))) return { ...counts, more: true };
          await between();
        }
      }
      // 4. Schedule fires, as long as jobs.
      if (policy.jobDays !== null) {
        const cutoff = daysBefore(now, policy.jobDays);
        for (;;) {
          if (stop()) return { ...counts, more: true };
          const n = await pruneScheduleFires(sql, cutoff, batches.historyRows);
          tally('scheduleFires', n);
          counts.scheduleFires += n;
          if (n < batches.historyRows) break;
          await between();
        }
      }
      // 5. The audit, on its own clock.
      if (policy.auditDays !== null) {
        const cutoff = daysBefore(now, policy.auditDays);
        for (;;) {
          if (stop()) return { ...counts, more: true };
          const n = await pruneAuditEvents(sql, cutoff, batches.historyRows);
          tally('auditEvents', n);
          counts.auditEvents += n;
          if (n < batches.historyRows) break;
          await between();
        }
      }
      // 6. Shell sessions: the rows past VMO_RETENTION_DAYS with their bytes, then the bytes alone past VMO_OUTPUT_RETENTION_DAYS.
      const outputAlone = policy.outputDays !== null && (policy.jobDays === null || policy.outputDays < policy.jobDays) ? policy.outputDays : null;
      for (const [days, keepRows] of [[policy.jobDays, false], [outputAlone, true]] as const) {
        if (days === null) continue;
        const cutoff = daysBefore(now, days);
        for (;;) {
          if (stop()) return { ...counts, more: true };
          const ids = await dueShellSessions(sql, cutoff, batches.jobs, keepRows);
          if (ids.length === 0) break;
          for (;;) {
            const n = await deleteShellOutputRows(sql, ids, batches.outputRows);
            tally('shellOutputRows', n);
            counts.shellOutputRows += n;
            if (n < batches.outputRows) break;
            if (stop()) return { ...counts, more: true };
            await between();
          }
          if (keepRows) continue;
          const n = await deleteShellSessionRows(sql, ids);
          tally('shellSessions', n);
          counts.shellSessions += n;
          if (n === 0) break; // none could go (never in practice): do not pick the same ones again
          await between();
        }
      }
      return counts;
    } finally {
      await lock`select pg_advisory_unlock(hashtextextended(${LOCK_KEY}, 0))`;
    }
  } finally {
    lock.release();
  }
}

function emptyCounts(): RetentionCounts {
  const zero = (): Record<BatchKind, number> => ({ jobs: 0, runs: 0, outputRows: 0, outputClaims: 0, scheduleFires: 0, auditEvents: 0, shellSessions: 0, shellOutputRows: 0 });
  return { skipped: false, more: false, jobs: 0, runs: 0, attempts: 0, outputRows: 0, outputExpiredJobs: 0, scheduleFires: 0, auditEvents: 0, shellSessions: 0, shellOutputRows: 0, statements: zero(), largest: zero() };
}
