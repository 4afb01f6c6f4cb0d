import type postgres from 'postgres';

/*
 * A limited target's line, in SQL: the ONE definition of "released `queued` jobs ahead of this one
 * on its target" and of "its running jobs", used by the gated start (lifecycle/sql/start-job.ts),
 * the look at the gate and `queuePosition` (look-at-gate.ts, GET /v1/jobs/{id}), and the wake-up
 * (wake-waiters.ts). They had drifted apart when each wrote its own; change them here only.
 *
 * LOUD: each filters on the target's own column (`agent_id` or `host_id`, chosen by kind) with an
 * equality, never `agent_id = … or host_id = …`: that is what lets Postgres walk only this target's
 * active jobs in jobs_agent_line_idx / jobs_host_line_idx. Without it every look read the bitmap of
 * every active job in the system and the target's whole history (49 ms against 0.9 ms for an
 * agent with 200,000 past jobs: packages/shared/test/target-gate-plan.test.ts).
 */

export type GateColumn = 'agent_id' | 'host_id';
type Expr = string | postgres.Fragment;
/** A pool or a transaction: the fragments are built by whichever runs the statement. */
type SqlLike = postgres.Sql | postgres.TransactionSql;

/*
 * LINE ORDER (issue 14): priority, highest first; then `released_at` (when the job joined the
 * line: a single job as it is submitted, a job with a runAt when that came, a run's child when its
 * run released it), then id. Equal priorities are first in, first out: the same order BullMQ
 * serves the jobs of an unlimited target in (queue/job-queue.ts adds each with its priority as it
 * is released). As SQL it is the ascending tuple (-priority, released_at, id), the order of
 * jobs_agent_line_idx / jobs_host_line_idx, so "ahead of" is one row comparison: a range of the
 * index, not a filter over the whole line. Write it only through these helpers (`-priority`
 * spelled as the index spells it).
 */

/** `(priority, released_at, id)` of a job: a row's columns (`rowPlace(sql, 'j')`). */
export interface LinePlace {
  priority: postgres.Fragment;
  releasedAt: postgres.Fragment;
  id: Expr;
}

/** The (priority, released_at, id) of the row under `alias`, for `before`. */
export const rowPlace = (sql: SqlLike, alias: string): LinePlace => ({
  priority: sql`${sql(alias)}.priority`,
  releasedAt: sql`${sql(alias)}.released_at`,
  id: sql`${sql(alias)}.id`,
});

/** The line order of the jobs under alias `w`, for an ORDER BY (the indexes' own order: no sort). */
export const lineOrderSql = (sql: SqlLike, w: string): postgres.Fragment => sql`-${sql(w)}.priority, ${sql(w)}.released_at, ${sql(w)}.id`;

/**
 * `w` (a jobs alias) is in the target's line: a released `queued` job whose `column` is `target`
 * (an id, or a fragment such as `j.agent_id`), and, with `before`, ahead of that place in line
 * order (above: higher priority first, then first in, first out). A held job (`released_at` null:
 * a run's child waiting for its run, a job waiting for its runAt) is not in line: it is not
 * waiting for the target.
 */
export function inLineSql(sql: SqlLike, w: string, column: GateColumn, target: Expr, before?: LinePlace): postgres.Fragment {
  const a = sql(w);
  return sql`${a}.${sql(column)} = ${target} and ${a}.status = 'queued' and ${a}.released_at is not null${
    before ? sql` and (-${a}.priority, ${a}.released_at, ${a}.id) < (-${before.priority}, ${before.releasedAt}, ${before.id})` : sql``
  }`;
}

/** `w` (a jobs alias) holds one of the target's slots: `running` on it. */
export function runningOnSql(sql: SqlLike, w: string, column: GateColumn, target: Expr): postgres.Fragment {
  const a = sql(w);
  return sql`${a}.${sql(column)} = ${target} and ${a}.status = 'running'`;
}

/**
 * The released `queued` jobs ahead of the job under alias `j` on its own target (its queue
 * position), an int expression. The column is chosen per row by the job's kind (an agent job by
 * `agent_id`, else by `host_id`): a CASE runs only the branch taken, each an equality on its own
 * index. 0 for a local job (no target): callers ask only for jobs on a limited target.
 */
export function aheadOfRowSql(sql: SqlLike, j: string): postgres.Fragment {
  const col = (c: GateColumn) => sql`${sql(j)}.${sql(c)}`;
  return sql`case when ${col('agent_id')} is not null
    then (select count(*)::int from jobs gate_w where ${inLineSql(sql, 'gate_w', 'agent_id', col('agent_id'), rowPlace(sql, j))})
    else (select count(*)::int from jobs gate_w where ${inLineSql(sql, 'gate_w', 'host_id', col('host_id'), rowPlace(sql, j))}) end`;
}

/** The running jobs on the target of the job under alias `j` (see aheadOfRowSql), an int expression. */
export function runningOnRowTargetSql(sql: SqlLike, j: string): postgres.Fragment {
  const col = (c: GateColumn) => sql`${sql(j)}.${sql(c)}`;
  return sql`case when ${col('agent_id')} is not null
    then (select count(*)::int from jobs gate_r where ${runningOnSql(sql, 'gate_r', 'agent_id', col('agent_id'))})
    else (select count(*)::int from jobs gate_r where ${runningOnSql(sql, 'gate_r', 'host_id', col('host_id'))}) end`;
}

/**
 * The job under alias `j` with its target's limit: `left join`s of its agent and host (by primary
 * key) under the aliases `gate_a` / `gate_h`, and the limit itself (null: none, or a local job).
 */
export const targetJoinsSql = (sql: SqlLike, j: string): postgres.Fragment =>
  sql`left join agents gate_a on gate_a.id = ${sql(j)}.agent_id left join hosts gate_h on gate_h.id = ${sql(j)}.host_id`;
export const targetLimitSql = (sql: SqlLike): postgres.Fragment => sql`coalesce(gate_a.max_concurrent_jobs, gate_h.max_concurrent_jobs)`;
