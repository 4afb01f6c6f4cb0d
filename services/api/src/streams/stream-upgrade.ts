import { jobAccess, loadGrants } from '@vmo/shared/access';
import { StreamQuery, streamJob } from '@vmo/shared/api';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { notFound, validationError } from '@vmo/shared/errors';
import { jobExists } from '@vmo/shared/jobs';
import type { Principal } from '../auth/principal.ts';
import { checkedPathValue } from '../http/path-param.ts';

/** The path of a job stream, from its contract: `/v1/jobs/{id}/stream` → `^/v1/jobs/([^/]+)/stream$`. */
export const STREAM_PATH = new RegExp(`^${streamJob.path.replace(/\{[^}]+\}/g, '([^/]+)')}$`);

/**
 * The job id and `?after=` of a job-stream upgrade, validated by the route's contract with the
 * REST readers' rules: an id Postgres cannot store is a 400 naming `id`; anything else goes on
 * (not job-shaped or unknown: the caller's 404). Unknown query parameters are ignored, as they
 * always were on the stream; a repeated `after` counts once (the first).
 */
export function parseStreamRequest(encodedId: string, url: URL): { jobId: string; after: number; attempt: number | undefined } {
  const jobId = checkedPathValue(decodePathSegment(encodedId), 'id');
  const params = streamJob.request.params.safeParse({ id: jobId });
  if (!params.success) throw validationError(params.error, 'path');
  const query = StreamQuery.safeParse({ after: url.searchParams.get('after') ?? undefined, attempt: url.searchParams.get('attempt') ?? undefined });
  if (!query.success) throw validationError(query.error, 'query');
  return { jobId: params.data.id, after: query.data.after, attempt: query.data.attempt };
}

/**
 * 404 unless the job exists and the caller may see it (issue 11): a job hidden by the policies is
 * the same 404 as no job, on a stream as on REST, marked for the audit as a policy's denial. One
 * query for an admin (does it exist?), two for anyone else (their grants, then the job with them).
 */
export async function assertJobVisible(cp: ControlPlane, principal: Principal, jobId: string): Promise<void> {
  const sql = cp.database.sql;
  const grants = await loadGrants(sql, principal);
  if (!grants.admin) {
    await jobAccess(sql, grants, jobId);
    return;
  }
  if (!(await jobExists(sql, jobId))) throw notFound('job', jobId);
}

/** A malformed escape (`%E0%A4%A`) is a client's mistake, not a server error: keep it raw (then 404). */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
