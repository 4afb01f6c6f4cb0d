import type { Sql, TransactionSql } from 'postgres';
import type { jobs } from '../db/schema/jobs.ts';
import type { JobRow } from './job-view.ts';
import { rowToJob } from './row-to-job.ts';
import { DEFAULT_PRIORITY } from '../domain/run-at-and-priority.ts';

/**
 * `released_at` of a single job as it is inserted: now (it goes to the queue at once), or null
 * while its `runAt` is still ahead by Postgres' clock (held; the workers' release loop lets it go
 * when it comes: jobs/run-at). Postgres' clock, not this process's: the release loop judges by it too.
 */
export const releasedAtSql = (sql: Sql | TransactionSql, runAtIso: string | null) =>
  runAtIso === null ? sql`clock_timestamp()` : sql`case when ${runAtIso}::timestamptz > clock_timestamp() then null else clock_timestamp() end`;

/**
 * The job insert of POST /v1/jobs, written out: it is the hottest statement of submission and
 * building it through the query builder cost more CPU than sending it.
 *
 * With `agentRef` (an agent's id or name), the agent is resolved in the same statement, among
 * agents not revoked: one round trip instead of two. No such agent: nothing is inserted and the
 * result is undefined.
 */
export async function insertJob(sql: Sql | TransactionSql, v: typeof jobs.$inferInsert, agentRef?: string): Promise<JobRow | undefined> {
  const target = JSON.stringify(v.target);
  const secretNames = v.secretEnvNames ? JSON.stringify(v.secretEnvNames) : null;
  const env = JSON.stringify(v.env ?? {});
  const labels = JSON.stringify(v.labels ?? {});
  const runAt = v.runAt ? v.runAt.toISOString() : null;
  const released = releasedAtSql(sql, runAt);
  const retry = v.retry ? JSON.stringify(v.retry) : null;
  const [row] =
    agentRef === undefined
      ? await sql`
          insert into jobs (id, status, command, target, agent_id, host_id, env, secret_env_names, cwd, timeout_ms, labels, created_by, owner_id, run_at, priority, released_at, retry, command_name, command_version, retain_days)
          values (${v.id}, ${v.status}, ${v.command}, ${target}::jsonb, ${v.agentId ?? null}, ${v.hostId ?? null},
                  ${env}::jsonb, ${secretNames}::jsonb, ${v.cwd ?? null}, ${v.timeoutMs}, ${labels}::jsonb, ${v.createdBy ?? null}, ${v.ownerId ?? null},
                  ${runAt}::timestamptz, ${v.priority ?? DEFAULT_PRIORITY}, ${released}, ${retry}::jsonb, ${v.commandName ?? null}, ${v.commandVersion ?? null}, ${v.retainDays ?? null}::int)
          returning *`
      : await sql`
          insert into jobs (id, status, command, target, agent_id, host_id, env, secret_env_names, cwd, timeout_ms, labels, created_by, owner_id, run_at, priority, released_at, retry, command_name, command_version, retain_days)
          select ${v.id}, ${v.status}, ${v.command}, ${target}::jsonb, a.id, ${v.hostId ?? null},
                 ${env}::jsonb, ${secretNames}::jsonb, ${v.cwd ?? null}, ${v.timeoutMs}, ${labels}::jsonb, ${v.createdBy ?? null}, ${v.ownerId ?? null},
                 ${runAt}::timestamptz, ${v.priority ?? DEFAULT_PRIORITY}, ${released}, ${retry}::jsonb, ${v.commandName ?? null}::text, ${v.commandVersion ?? null}::int, ${v.retainDays ?? null}::int
          from agents a where a.revoked_at is null and (a.id = ${agentRef} or a.name = ${agentRef})
          limit 1
          returning *`;
  return row ? rowToJob(row) : undefined;
}
