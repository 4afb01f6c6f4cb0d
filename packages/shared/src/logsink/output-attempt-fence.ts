import type { PendingQuery, Row, Sql, TransactionSql } from 'postgres';

/** Where the fence reads the job row and the chunk's attempt, as `alias.column` SQL names. */
export interface FenceColumns {
  /** The alias of the `jobs` row the fence is judged on (`j`, `jobs`). */
  job: string;
  /** The column holding the chunk's attempt (`v.attempt`, `s.attempt`). */
  attempt: string;
}

/**
 * LOUD: THE ATTEMPT FENCE ON OUTPUT (issue 14, retries), in its one home. True when the chunk's
 * attempt is OVER on this job row, and its output must be refused (not stored, not counted, not
 * published): the job has started a later attempt (`jobs.attempt` above the chunk's), or it is
 * `queued` again at the chunk's attempt with a `retry_at` (the retry transition moved past it,
 * jobs/lifecycle/sql/retry-job.ts). A job row at an OLDER attempt (not started yet) does not fence.
 *
 * insertOutputBatch and copyOutputBatch judge every chunk with this, and judge it again on the row
 * their byte-count UPDATE takes: change it here and both paths, both checks, change together. A
 * fence that differs between the store and the count would let attempt 1's late bytes be counted
 * in attempt 2, or store a chunk no one counts.
 *
 * The chunk's attempt is cast to int: the INSERT's VALUES list carries it untyped.
 * The names are SQL identifiers written by this package, never input (escaped all the same).
 */
export function outputAttemptIsOver(sql: Sql | TransactionSql, at: FenceColumns): PendingQuery<Row[]> {
  const jobAttempt = sql(`${at.job}.attempt`);
  const chunkAttempt = sql`${sql(at.attempt)}::int`;
  return sql`(${jobAttempt} > ${chunkAttempt}
    or (${jobAttempt} = ${chunkAttempt} and ${sql(`${at.job}.status`)} = 'queued' and ${sql(`${at.job}.retry_at`)} is not null))`;
}
