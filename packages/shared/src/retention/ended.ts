import type { Sql, TransactionSql } from 'postgres';

/**
 * "The row has ended", as literal SQL, never as parameters: the retention indexes are partial on
 * exactly these lists (db/schema/jobs.ts, runs.ts), and Postgres proves a partial index usable
 * only from constants it can see in the statement (a generic plan has no values for parameters).
 * Kept in step with domain TERMINAL_STATUSES and TERMINAL_RUN_STATUSES (retention.test.ts checks it).
 */
export const ENDED_JOB_STATUSES = ['succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped'] as const;
export const ENDED_RUN_STATUSES = ['succeeded', 'failed', 'canceled'] as const;

export const jobEnded = (sql: Sql | TransactionSql) => sql.unsafe(`status in (${ENDED_JOB_STATUSES.map((s) => `'${s}'`).join(', ')})`);
export const runEnded = (sql: Sql | TransactionSql) => sql.unsafe(`status in (${ENDED_RUN_STATUSES.map((s) => `'${s}'`).join(', ')})`);
