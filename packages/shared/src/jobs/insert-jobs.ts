import type { Sql } from 'postgres';
import type { jobs } from '../db/schema/jobs.ts';
import type { JobRow } from './job-view.ts';
import { rowToJob } from './row-to-job.ts';
import { DEFAULT_PRIORITY } from '../domain/run-at-and-priority.ts';

/** One job of a multi-row insert: its values, and the agent it names (id or name) when it is an agent job. */
export interface JobToInsert {
  values: typeof jobs.$inferInsert;
  agentRef?: string | undefined;
}

/**
 * Many jobs in ONE statement (group commit of POST /v1/jobs: submit-job-batch.ts), each exactly
 * as insertJob would insert it alone: an agent job's agent resolved in the statement among agents
 * not revoked (id or name), `released_at` now or held for a `runAt` ahead by Postgres' clock.
 *
 * The answer has one entry per job, in order: its row, or undefined for a job whose agent is
 * nobody (that job alone is not inserted; the others are). One statement is one transaction: all
 * the rows are committed together, or none (the caller then tries each alone).
 *
 * The whole batch is one jsonb parameter unpacked by jsonb_to_recordset (no bound-parameter limit,
 * one parse), as audit rows are (audit/insert-audit-events.ts).
 */
export async function insertJobs(sql: Sql, batch: readonly JobToInsert[]): Promise<(JobRow | undefined)[]> {
  const rows = batch.map(({ values: v, agentRef }) => ({
    id: v.id,
    status: v.status,
    command: v.command,
    target: v.target,
    agent_ref: agentRef ?? null,
    agent_id: v.agentId ?? null,
    host_id: v.hostId ?? null,
    env: v.env ?? {},
    secret_env_names: v.secretEnvNames ?? null,
    cwd: v.cwd ?? null,
    timeout_ms: v.timeoutMs,
    labels: v.labels ?? {},
    created_by: v.createdBy ?? null,
    owner_id: v.ownerId ?? null,
    run_at: v.runAt ? v.runAt.toISOString() : null,
    priority: v.priority ?? DEFAULT_PRIORITY,
    retry: v.retry ?? null,
    command_name: v.commandName ?? null,
    command_version: v.commandVersion ?? null,
    retain_days: v.retainDays ?? null,
  }));
  // LOUD: `where r.agent_ref is null or a.id is not null`: a job naming an unknown agent is left
  // out of the insert (and answered 422 by its caller alone), never inserted with a null agent.
  const inserted = await sql`
    insert into jobs (id, status, command, target, agent_id, host_id, env, secret_env_names, cwd, timeout_ms, labels, created_by, owner_id, run_at, priority, released_at, retry, command_name, command_version, retain_days)
    select r.id, r.status, r.command, r.target, coalesce(a.id, r.agent_id), r.host_id, r.env, r.secret_env_names, r.cwd, r.timeout_ms, r.labels, r.created_by, r.owner_id,
           r.run_at, r.priority,
           case when r.run_at is not null and r.run_at > clock_timestamp() then null else clock_timestamp() end,
           r.retry, r.command_name, r.command_version, r.retain_days
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(
           id text, status text, command text, target jsonb, agent_ref text, agent_id text, host_id text, env jsonb, secret_env_names jsonb, cwd text,
           timeout_ms int, labels jsonb, created_by text, owner_id text, run_at timestamptz, priority int, retry jsonb, command_name text, command_version int, retain_days int)
    left join lateral (
      select id from agents where r.agent_ref is not null and revoked_at is null and (id = r.agent_ref or name = r.agent_ref) limit 1
    ) a on true
    where r.agent_ref is null or a.id is not null
    returning *`;
  const byId = new Map<string, JobRow>();
  for (const row of inserted) byId.set(row.id as string, rowToJob(row));
  return batch.map(({ values }) => byId.get(values.id!));
}
