import type { Sql } from 'postgres';
import { GroupCommit } from '../batch/group-commit.ts';
import { refusedForContent } from '../db/pg-error-code.ts';
import type { JobRow } from './job-view.ts';
import { insertJob } from './insert-job.ts';
import { insertJobs, type JobToInsert } from './insert-jobs.ts';

/**
 * Jobs submitted at about the same time share one INSERT (group commit, issue 16): at the end of
 * the event-loop turn they arrived in while a slot is free, or together behind the inserts in
 * flight. Each caller is answered its own row (or undefined: its agent is nobody) once the
 * statement that holds it is COMMITTED: the caller may answer 201 on it as on insertJob's.
 *
 * A batch Postgres refuses for its content is inserted job by job through insertJob, so each
 * submitter gets exactly what it would have got alone (a row refused fails only its own request).
 * Any other failure (the connection, an outage) is each submitter's error as it is, as it would
 * have been alone: the statement was not committed, nobody is answered 201.
 *
 * Not for jobs with secrets (their row and sealed secrets go in one transaction of their own) nor
 * for idempotent submissions (the key's claim and the row go in one transaction): submit-job.ts
 * keeps those on the single path.
 */
const MAX_JOBS_PER_INSERT = 128;
/** Two inserts at once: one gathers while the other's round trip is out, and the pool (10) keeps room for the rest. */
const MAX_INSERTS_IN_FLIGHT = 2;

/**
 * An INSERT not settled within this (a lock, a black-holed connection) frees its slot for the next
 * one. 10 s: a healthy 128-row INSERT takes milliseconds, and one that is merely slow (a
 * checkpoint, a busy pool) must not count as hung: two such would refuse submissions.
 */
const INSERT_DEADLINE_MS = 10_000;
/** Overdue INSERTs still open at most (each holds a pool connection): then submissions are refused, never sent. */
const MAX_OVERDUE_INSERTS = 2;

const perPool = new WeakMap<Sql, GroupCommit<JobToInsert, JobRow | undefined>>();

export function insertJobGrouped(sql: Sql, job: JobToInsert): Promise<JobRow | undefined> {
  let group = perPool.get(sql);
  if (!group) {
    group = new GroupCommit<JobToInsert, JobRow | undefined>({
      commit: (batch) => (batch.length === 1 ? insertJob(sql, batch[0]!.values, batch[0]!.agentRef).then((row) => [row]) : insertJobs(sql, batch)),
      alone: (one) => insertJob(sql, one.values, one.agentRef),
      aloneWhen: refusedForContent,
      maxBatch: MAX_JOBS_PER_INSERT,
      maxInFlight: MAX_INSERTS_IN_FLIGHT,
      // LOUD: a write. An INSERT past its deadline only gives its slot up ('wait'): its
      // submitters keep waiting for its real outcome. It may still commit, so answering them now
      // could only be wrong both ways: 201 for a row that is not durable yet, or a 503 after which
      // the client submits again and the first row commits too: the job runs twice (grouped
      // submissions carry no Idempotency-Key: keyed ones take the single path, see above).
      // What IS refused is only what was never sent: at MAX_OVERDUE_INSERTS open overdue
      // INSERTs, new submissions are answered 503 `unavailable` at once (BatchOverdue
      // `refused`): no statement holds them, so a retry cannot duplicate a job.
      deadlineMs: INSERT_DEADLINE_MS,
      whenOverdue: 'wait',
      maxOverdue: MAX_OVERDUE_INSERTS,
      label: 'the job insert',
    });
    perPool.set(sql, group);
  }
  return group.add(job);
}
