import type { ControlPlane } from '../../control-plane/control-plane.ts';
import type { JobStatus } from '../../domain/job-status.ts';
import type { RunStatus } from '../../domain/run-status.ts';
import { notFound } from '../../errors/app-error.ts';
import { getRunHead } from './get-run-head.ts';
import { hashChildOutputs } from './hash-child-outputs.ts';
import { SummaryDeadline } from './summary-deadline.ts';
import {
  SUMMARY_OUTPUTS_LISTED,
  SUMMARY_OUTPUTS_PER_GROUP,
  SUMMARY_RESULT_GROUPS,
  SUMMARY_SAMPLE_BYTES,
  SUMMARY_TARGETS_LISTED,
  SUMMARY_TIME_LIMIT_MS,
} from '../summary-limits.ts';

export * from '../summary-limits.ts';

export interface RunOutputGroupView {
  hash: string | null;
  bytes: number | null;
  sample: string | null;
  sampleBase64: string | null;
  count: number;
  targets: string[];
  jobIds: string[];
}

export interface RunResultGroupView {
  status: JobStatus;
  exitCode: number | null;
  count: number;
  jobsUrl: string;
  outputs: RunOutputGroupView[];
  otherOutputs: { groups: number; count: number };
}

export interface RunSummaryView {
  runId: string;
  status: RunStatus;
  total: number;
  groups: RunResultGroupView[];
  otherGroups: { groups: number; count: number };
}

interface GroupRow {
  status: JobStatus;
  exit_code: number | null;
  hash: string | null;
  bytes: number | null;
  n: number;
  targets: string[];
  job_ids: string[];
  out_rank: number;
  result_outputs: number;
  result_n: number;
  result_rank: number;
  result_groups: number;
  children: number;
}

/**
 * GET /v1/runs/{id}/summary: "997 hosts printed `ok`, 3 printed `disk full`" in one request.
 *
 * 1. Every final child without a stored output hash gets one (hash-child-outputs.ts): its bytes
 *    are read once, ever, not on every GET.
 * 2. One statement groups the children by (status, exit code, stored hash) over jobs_run_idx and
 *    ranks the groups, largest first; only the listed groups (and their first
 *    SUMMARY_TARGETS_LISTED targets) cross the wire.
 * 3. One statement reads the first KiB of the first child of each listed output group.
 *
 * Children not final (queued, running) are grouped by status alone, with a null hash: their output
 * still grows, so a hash would be stale at once and re-reading it on every GET is the cost this
 * design removes. Everything runs under one deadline (SummaryDeadline): a 503 the client retries,
 * never a 500 nor a request that never ends.
 */
export async function runSummary(cp: Pick<ControlPlane, 'database'>, runId: string, opts: { timeLimitMs?: number } = {}): Promise<RunSummaryView> {
  const sql = cp.database.sql;
  const head = await getRunHead(sql, runId);
  if (!head) throw notFound('run', runId);
  const deadline = new SummaryDeadline(opts.timeLimitMs ?? SUMMARY_TIME_LIMIT_MS);
  await hashChildOutputs(sql, runId, deadline);

  const rows = await deadline.run(sql, (tx) => tx<GroupRow[]>`
    with g as (
      select status, exit_code, output_sha256, min(output_bytes)::bigint as bytes, count(*)::int as n, min(run_index) as first_index,
             (array_agg(target_name order by run_index))[1:${SUMMARY_TARGETS_LISTED}] as targets,
             (array_agg(id order by run_index))[1:${SUMMARY_TARGETS_LISTED}] as job_ids
      from jobs
      where run_id = ${runId}
      group by status, exit_code, output_sha256
    ), o as (
      select g.*,
             row_number() over (partition by status, exit_code order by n desc, first_index)::int as out_rank,
             count(*) over (partition by status, exit_code)::int as result_outputs,
             sum(n) over (partition by status, exit_code)::int as result_n,
             min(first_index) over (partition by status, exit_code) as result_first
      from g
    ), r as (
      -- Largest first; among equals, the one whose first child comes first in the run (stable answers).
      select o.*, dense_rank() over (order by result_n desc, result_first)::int as result_rank from o
    ), s as (
      select r.*, max(result_rank) over ()::int as result_groups, sum(n) over ()::int as children from r
    )
    select status, exit_code, encode(output_sha256, 'hex') as hash, case when output_sha256 is null then null else bytes end as bytes,
           n, targets, job_ids, out_rank, result_outputs, result_n, result_rank, result_groups, children
    from s
    where result_rank <= ${SUMMARY_RESULT_GROUPS} and out_rank <= ${SUMMARY_OUTPUTS_PER_GROUP}
    order by result_rank, out_rank`);

  // The same share of output groups for every listed result group (see SUMMARY_OUTPUTS_LISTED).
  const outputsIn = new Map<number, number>();
  for (const r of rows) outputsIn.set(r.result_rank, r.result_outputs);
  const perGroup = outputsPerGroup([...outputsIn.values()]);
  const listed = rows.filter((r) => r.out_rank <= perGroup);

  const samples = await readSamples(sql, deadline, listed.filter((r) => r.hash !== null).map((r) => r.job_ids[0]!));

  const groups: RunResultGroupView[] = [];
  for (const r of listed) {
    let group = groups[groups.length - 1];
    if (!group || group.status !== r.status || group.exitCode !== r.exit_code) {
      const query = new URLSearchParams({ status: r.status });
      group = { status: r.status, exitCode: r.exit_code, count: r.result_n, jobsUrl: `/v1/runs/${runId}/jobs?${query}`, outputs: [], otherOutputs: { groups: r.result_outputs, count: r.result_n } };
      groups.push(group);
    }
    const sample = r.hash === null ? null : (samples.get(r.job_ids[0]!) ?? Buffer.alloc(0));
    group.outputs.push({
      hash: r.hash,
      bytes: r.bytes === null ? null : Number(r.bytes),
      sample: sample && sampleText(sample, Number(r.bytes) > SUMMARY_SAMPLE_BYTES),
      sampleBase64: sample && sample.toString('base64'),
      count: r.n,
      targets: r.targets,
      jobIds: r.job_ids,
    });
    group.otherOutputs.groups -= 1;
    group.otherOutputs.count -= r.n;
  }
  const first = rows[0];
  const shown = groups.reduce((sum, g) => sum + g.count, 0);
  return {
    runId,
    status: head.status,
    total: head.total,
    groups,
    otherGroups: { groups: first ? first.result_groups - groups.length : 0, count: first ? first.children - shown : 0 },
  };
}

/** The largest share ≤ SUMMARY_OUTPUTS_PER_GROUP such that the listed result groups list at most SUMMARY_OUTPUTS_LISTED outputs. */
export function outputsPerGroup(outputsOfEachGroup: number[]): number {
  let share = SUMMARY_OUTPUTS_PER_GROUP;
  while (share > 1 && outputsOfEachGroup.reduce((sum, n) => sum + Math.min(n, share), 0) > SUMMARY_OUTPUTS_LISTED) share--;
  return share;
}

/** The first SUMMARY_SAMPLE_BYTES of each job's output, in one statement. */
async function readSamples(sql: ControlPlane['database']['sql'], deadline: SummaryDeadline, jobIds: string[]): Promise<Map<string, Buffer>> {
  if (jobIds.length === 0) return new Map();
  const rows = await deadline.run(sql, (tx) => tx<{ id: string; sample: Buffer }[]>`
    select i.id,
           -- Every chunk has at least one byte: the first N chunks, each cut to N bytes, hold the first N bytes.
           (select coalesce(substring(string_agg(s.d, ''::bytea order by s.seq) from 1 for ${SUMMARY_SAMPLE_BYTES}), ''::bytea)
            from (select seq, substring(data from 1 for ${SUMMARY_SAMPLE_BYTES}) as d
                  -- The child's current attempt (issue 14): the one its status is of.
                  from job_output where job_id = i.id and attempt = (select greatest(j.attempt, 1) from jobs j where j.id = i.id) order by seq limit ${SUMMARY_SAMPLE_BYTES}) s) as sample
    from unnest(${jobIds}::text[]) as i(id)`);
  return new Map(rows.map((r) => [r.id, r.sample]));
}

/**
 * The sample as text: bytes that are not UTF-8 become U+FFFD (the WHATWG decoder's replacement);
 * when the output goes on past the sample, a character cut at the boundary is left out rather than
 * shown as a replacement it is not (`stream: true` holds an incomplete sequence back).
 */
function sampleText(bytes: Buffer, cut: boolean): string {
  return new TextDecoder('utf-8').decode(bytes, { stream: cut });
}
