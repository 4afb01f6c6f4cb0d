import type { Sql } from 'postgres';
import type { JobStatus } from '@vmo/shared/domain';
import type { AgentHello } from '@vmo/shared/protocol';

/** A job the agent reported in its hello, as the server has it (§6 fencing), or no row at all. */
export interface ReportedJobRow {
  id: string;
  status: JobStatus;
  attempt: number;
  agentId: string | null;
  /**
   * When the row is this agent's running job at the reported attempt: how many chunks of that
   * attempt are stored without a hole (the first seq the agent must resend). Null otherwise.
   */
  storedPrefix: number | null;
}

export interface RecordedHello {
  /** By reportedKey(jobId, attempt as the hello reported it); no entry: no such job. */
  reported: Map<string, ReportedJobRow>;
  /** Running jobs the agent had confirmed (`started`): one it no longer reports died with it. */
  accepted: { id: string; attempt: number }[];
  /** Running jobs of the agent with a stop recorded: repeated after `welcome` (§6). */
  stops: { id: string; graceMs: number | null }[];
  /**
   * Postgres' `now()` for this statement: when the hello was recorded, on the clock that writes
   * every other time it is compared with (shell_sessions.opened_at: agent-session.ts's probe).
   */
  helloAt: Date;
}

/** A hello may report a job twice with different attempts: each report is looked up apart. */
export const reportedKey = (jobId: string, attempt: number): string => `${jobId} ${attempt}`;

/**
 * §1 + §6 in ONE statement (one round trip per handshake, issue 16): record what the hello says
 * (hostname, version, os, arch, reported labels, last seen), and read everything `welcome` and
 * what follows it need: the fence of each reported job with its stored prefix, the jobs the agent
 * had confirmed, the stops requested while it was away, and Postgres' time. One snapshot answers
 * all of them.
 *
 * The stored prefix is storedPrefixLength's (stored-prefix.ts) in SQL: count = max + 1 means no
 * hole (one index-only aggregate); otherwise the first gap. LOUD: the two must agree, or the agent
 * resumes from the wrong seq and a chunk is never resent (a hole in the log for good).
 *
 * `labels` are the reported labels as stored (reserved keys already dropped by the caller).
 */
export async function recordHello(sql: Sql, agentId: string, hello: AgentHello, labels: Record<string, string>): Promise<RecordedHello> {
  const jobs = JSON.stringify(hello.jobs.map((j) => ({ job_id: j.jobId, attempt: j.attempt })));
  const rows = await sql<{ kind: 'reported' | 'accepted' | 'stop' | 'clock'; id: string; status: JobStatus; attempt: number; agent_id: string | null; grace_ms: number | null; stored_prefix: number | null; reported_attempt: string | null; at: Date | string | null }[]>`
    with hello as (
      update agents set hostname = ${hello.hostname}, version = ${hello.agentVersion}, os = ${hello.os}, arch = ${hello.arch},
        reported_labels = ${JSON.stringify(labels)}::jsonb, last_seen_at = now()
      where id = ${agentId}
      returning id
    ), reported as (
      -- bigint: the hello's attempt is any safe integer; one beyond the column's range just matches nothing
      select r.job_id, r.attempt from jsonb_to_recordset(${jobs}::jsonb) as r(job_id text, attempt bigint)
    )
    select 'reported' as kind, j.id, j.status, j.attempt, j.agent_id, null::int as grace_ms, r.attempt::text as reported_attempt,
      case when j.agent_id = ${agentId} and j.status = 'running' and j.attempt = r.attempt then (
        select case
          when s.n = 0 then 0
          when s.mx = s.n - 1 then s.n
          else coalesce((
            select t.rn from (
              select o.seq, (row_number() over (order by o.seq) - 1)::int as rn from job_output o where o.job_id = j.id and o.attempt = r.attempt
            ) t where t.seq <> t.rn order by t.rn limit 1), s.n)
        end
        from (select count(*)::int as n, max(o.seq) as mx from job_output o where o.job_id = j.id and o.attempt = r.attempt) s
      ) end as stored_prefix, null::timestamptz as at
    from reported r join jobs j on j.id = r.job_id
    union all
    select 'accepted', id, status, attempt, agent_id, null, null, null, null from jobs
    where agent_id = ${agentId} and status = 'running' and accepted_at is not null
    union all
    select 'stop', id, status, attempt, agent_id, cancel_grace_ms, null, null, null from jobs
    where agent_id = ${agentId} and status = 'running' and cancel_reason is not null
    union all
    select 'clock', null, null, null, null, null, null, null, now()`;
  // The 'clock' row always comes; were it missing, the epoch makes the shell probe ask about nothing (never end a session by mistake).
  const out: RecordedHello = { reported: new Map(), accepted: [], stops: [], helloAt: new Date(0) };
  for (const r of rows) {
    if (r.kind === 'clock') {
      // Parsed here: the driver may give the text rather than a Date (an unparsable one keeps the epoch default).
      const at = new Date(r.at!);
      if (!Number.isNaN(at.getTime())) out.helloAt = at;
    } else if (r.kind === 'reported') out.reported.set(`${r.id} ${r.reported_attempt}`, { id: r.id, status: r.status, attempt: r.attempt, agentId: r.agent_id, storedPrefix: r.stored_prefix });
    else if (r.kind === 'accepted') out.accepted.push({ id: r.id, attempt: r.attempt });
    else out.stops.push({ id: r.id, graceMs: r.grace_ms });
  }
  return out;
}
