import type { Sql, TransactionSql } from 'postgres';

/**
 * "The row has ended", as literal SQL, never as parameters: the retention indexes are partial on
 * exactly these lists (db/schema/jobs.ts, runs.ts), and Postgres proves a partial index usable
 * only from constants it can see in the statement (a generic plan has no values for parameters).
 * Kept in step with domain TERMINAL_STATUSES and TERMINAL_RUN_STATUSES (retention.test.ts checks it).
 */
export const ENDED_JOB_STATUSES = ['succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped'] as const;
export const ENDED_RUN_STATUSES = ['succeeded', 'failed', 'canceled'] as const;

const literalList = (statuses: readonly string[]) => statuses.map((s) => `'${s}'`).join(', ');
export const jobEnded = (sql: Sql | TransactionSql) => sql.unsafe(`status in (${literalList(ENDED_JOB_STATUSES)})`);
export const runEnded = (sql: Sql | TransactionSql) => sql.unsafe(`status in (${literalList(ENDED_RUN_STATUSES)})`);

/**
 * LOUD: a run's child goes only once its run has ended (or it has no run). The roll-up counts a
 * run's children from the rows there are (runs/child-counts.ts): deleting the ended children of a
 * run still going would give back its error budget (maxErrors) and could end it `succeeded` over
 * the survivors. `jobs` must be the unaliased table of the statement it goes into.
 */
export const jobRunEnded = (sql: Sql | TransactionSql) =>
  sql.unsafe(`(jobs.run_id is null or exists (select 1 from runs where runs.id = jobs.run_id and runs.status in (${literalList(ENDED_RUN_STATUSES)})))`);
