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
    });
    perPool.set(sql, group);
  }
  return group.add(job);
}
