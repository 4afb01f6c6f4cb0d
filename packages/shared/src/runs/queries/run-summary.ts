import type { ControlPlane } from '../../control-plane/control-plane.ts';
import type { JobStatus } from '../../domain/job-status.ts';
import type { RunStatus } from '../../domain/run-status.ts';
import { notFound } from '../../errors/app-error.ts';
import { getRunHead } from './get-run-head.ts';

/** How much of each group's output the summary shows. */
export const SUMMARY_SAMPLE_BYTES = 1024;

export interface RunOutputGroupView {
  hash: string;
  bytes: number;
  sample: string;
  sampleBase64: string;
  count: number;
  targets: string[];
  jobIds: string[];
}

export interface RunSummaryView {
  runId: string;
  status: RunStatus;
  total: number;
  groups: { status: JobStatus; exitCode: number | null; count: number; outputs: RunOutputGroupView[] }[];
}

interface GroupRow {
  status: JobStatus;
  exit_code: number | null;
  hash: string;
  bytes: number;
  n: number;
  first_index: number;
  targets: string[];
  job_ids: string[];
  sample: Buffer;
}

/**
 * GET /v1/runs/{id}/summary: "997 hosts printed `ok`, 3 printed `disk full`" in one request.
 *
 * Everything is computed in Postgres, in one statement: each child's output hashed (sha256 of its
 * stored chunks, both streams, in seq order: the bytes `GET /v1/jobs/{id}/logs` answers), children
 * grouped by (status, exit code, hash), and for each group the first KiB of its first child's
 * output. Only the groups cross the wire, never the output itself. The hash reads each child's
 * stored output once (the cost grows with the bytes the run wrote, not with repeated requests of
 * a page), and a chunking difference between two children (one write or two) does not split them:
 * the chunks are concatenated before hashing.
 */
export async function runSummary(cp: ControlPlane, runId: string): Promise<RunSummaryView> {
  const sql = cp.database.sql;
  const head = await getRunHead(sql, runId);
  if (!head) throw notFound('run', runId);
  // No interpolation inside an SQL comment below: postgres.js would make it a parameter there too.
  const rows = await sql<GroupRow[]>`
    with child as (
      select j.id, j.run_index, j.target_name, j.status, j.exit_code,
             coalesce(o.hash, sha256(''::bytea)) as hash, coalesce(o.bytes, 0)::bigint as bytes
      from jobs j
      left join lateral (
        select sha256(string_agg(data, ''::bytea order by seq)) as hash, sum(octet_length(data))::bigint as bytes
        from job_output where job_id = j.id
      ) o on true
      where j.run_id = ${runId}
    ), grp as (
      select status, exit_code, hash, min(bytes) as bytes, count(*)::int as n, min(run_index) as first_index,
             array_agg(target_name order by run_index) as targets,
             array_agg(id order by run_index) as job_ids
      from child
      group by status, exit_code, hash
    )
    select g.status, g.exit_code, encode(g.hash, 'hex') as hash, g.bytes, g.n, g.first_index, g.targets, g.job_ids,
           -- Every chunk has at least one byte: the first N chunks, each cut to N bytes, hold the first N bytes.
           (select coalesce(substring(string_agg(s.d, ''::bytea order by s.seq) from 1 for ${SUMMARY_SAMPLE_BYTES}), ''::bytea)
            from (select seq, substring(data from 1 for ${SUMMARY_SAMPLE_BYTES}) as d
                  from job_output where job_id = g.job_ids[1] order by seq limit ${SUMMARY_SAMPLE_BYTES}) s) as sample
    from grp g`;

  // Each (status, exit code) with its outputs; `first` (the smallest run index in it) breaks ties so answers are stable.
  type Ranked<T> = T & { count: number; first: number };
  const byResult = new Map<string, Ranked<{ status: JobStatus; exitCode: number | null; outputs: Ranked<RunOutputGroupView>[] }>>();
  for (const r of rows) {
    const key = `${r.status}/${r.exit_code ?? ''}`;
    let result = byResult.get(key);
    if (!result) byResult.set(key, (result = { status: r.status, exitCode: r.exit_code, count: 0, first: r.first_index, outputs: [] }));
    result.count += r.n;
    result.first = Math.min(result.first, r.first_index);
    const bytes = Number(r.bytes);
    result.outputs.push({
      hash: r.hash,
      bytes,
      sample: sampleText(r.sample, bytes > SUMMARY_SAMPLE_BYTES),
      sampleBase64: r.sample.toString('base64'),
      count: r.n,
      first: r.first_index,
      targets: r.targets,
      jobIds: r.job_ids,
    });
  }
  // Largest first; among equals, the one whose first child comes first in the run.
  const bySize = (a: { count: number; first: number }, b: { count: number; first: number }) => b.count - a.count || a.first - b.first;
  const groups = [...byResult.values()].sort(bySize).map(({ first: _, outputs, ...result }) => ({
    ...result,
    outputs: outputs.sort(bySize).map(({ first: _f, ...output }) => output),
  }));
  return { runId, status: head.status, total: head.total, groups };
}

/**
 * The sample as text: bytes that are not UTF-8 become U+FFFD (the WHATWG decoder's replacement);
 * when the output goes on past the sample, a character cut at the boundary is left out rather than
 * shown as a replacement it is not (`stream: true` holds an incomplete sequence back).
 */
function sampleText(bytes: Buffer, cut: boolean): string {
  return new TextDecoder('utf-8').decode(bytes, { stream: cut });
}
