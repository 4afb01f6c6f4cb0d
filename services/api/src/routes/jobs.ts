import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import { assertAllowed, assertMayRunJob, jobAccess, jobsReadableBy, mayReadAgent, mayReadMachine, runsReadableBy } from '@vmo/shared/access';
import { cancelJob, getJob, jobAttempts, jobLogs, listJobs, submitJob } from '@vmo/shared/api';
import { deniedByPolicy } from '@vmo/shared/audit';
import { AppError, notFound } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { STREAM_CODE, STREAM_NAME } from '@vmo/shared/domain';
import { currentAttempt, findJobs, getJob as readJob, getJobWithPosition, jobAttempts as readJobAttempts, jobView, readOutput, stopJob, submitJob as insertJob } from '@vmo/shared/jobs';
import type { JobInput } from '@vmo/shared/jobs';
import { workspaceAgentTarget } from '@vmo/shared/workspaces';
import { grantsOf } from '../access/request-grants.ts';
import { type AuthEnv, principalKey } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/**
 * /v1/jobs: submit, list, read, cancel, and the stored output. The live stream is streams/job-stream.ts.
 *
 * Access (issue 11): each route's scope first (openapiRoute: 403 `forbidden`, the same for every
 * id), then the policies (@vmo/shared/access). A job the caller may not see is 404 on every route,
 * as if there were none; running where no policy grants `run` is 403 `target_forbidden` naming
 * the target; a cancel needs `cancel` on the target, or to be the job's owner (who started it may
 * stop it).
 */
export function jobRoutes(cp: ControlPlane) {
  const sql = cp.database.sql;
  /** The job, once the caller may see it: the row and the check in one statement (an admin: the row alone). */
  const loadJob = async (c: Context<AuthEnv>, id: string) => {
    if (!isId('job', id)) throw notFound('job', id);
    const access = await jobAccess(sql, await grantsOf(c, cp), id);
    const row = access.job ?? (await readJob(sql, id));
    if (!row) throw notFound('job', id);
    return { row, access };
  };
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, submitJob, async (c, input) => {
    const submitted = await input.body();
    const key = input.headers()['Idempotency-Key'];
    const principal = c.get('principal');
    const idempotency = key === undefined ? undefined : { principal: principalKey(principal), key };
    // A workspace (issue 18) runs on its agent. LOUD: it is the caller's own (or they are an
    // admin), which is what lets them run there without a policy on its agent.
    const onWorkspace = submitted.target.type === 'workspace';
    const body: JobInput = submitted.target.type === 'workspace'
      ? { ...submitted, target: await workspaceAgentTarget(cp, submitted.target.workspace, { userId: principal.userId, name: principal.name, admin: principal.role === 'admin' }) }
      : (submitted as JobInput);
    const judged = onWorkspace ? {} : await assertMayRunJob(cp, await grantsOf(c, cp), body.target); // before anything is written
    // The host judged (a bare name resolves among the caller's readable hosts), not the name again.
    const { replayed, ...job } = await insertJob(cp, body, principal.name, idempotency, principal.userId, judged.hostId);
    c.header('Location', `/v1/jobs/${job.id}`);
    if (replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(job, 201);
  }, { scope: 'jobs:run' });

  openapiRoute(app, listJobs, async (c, input) => {
    const grants = await grantsOf(c, cp);
    const visibleTo = grants.admin
      ? undefined
      : { jobs: jobsReadableBy(sql, grants), runs: runsReadableBy(sql, grants), machine: (labels: Readonly<Record<string, string>>) => mayReadMachine(grants, labels), agent: (labels: Readonly<Record<string, string>>) => mayReadAgent(grants, labels), userId: grants.userId };
    return c.json(await findJobs(cp, { ...input.query(), ...(visibleTo ? { visibleTo } : {}) }), 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, getJob, async (c, input) => {
    const { id } = input.params();
    if (!isId('job', id)) throw notFound('job', id);
    const grants = await grantsOf(c, cp);
    // One statement, with or without a limit on its target, and whether the caller may see it.
    const found = await getJobWithPosition(sql, id, grants.admin ? undefined : jobsReadableBy(sql, grants));
    if (!found) throw notFound('job', id);
    if (!found.visible) throw deniedByPolicy(notFound('job', id));
    return c.json(jobView(found.job, found.queuePosition), 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, cancelJob, async (c, input) => {
    const { id } = input.params();
    assertAllowed((await loadJob(c, id)).access, 'cancel');
    const body = await input.body();
    return c.json(await stopJob(cp, id, 'canceled', body.graceMs), 202);
  }, { scope: 'jobs:cancel' });

  openapiRoute(app, jobAttempts, async (c, input) => {
    const { row: job } = await loadJob(c, input.params().id);
    return c.json({ items: await readJobAttempts(sql, job) }, 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, jobLogs, async (c, input) => {
    const { row: job } = await loadJob(c, input.params().id);
    // Retention (issue 14) deleted it: say so, rather than answer an empty log as if the command printed nothing.
    if (job.outputExpiredAt) {
      throw new AppError(410, 'output_expired', `job ${JSON.stringify(job.id)}: its output was deleted by retention on ${job.outputExpiredAt.toISOString()} (VMO_OUTPUT_RETENTION_DAYS, or the job's retainDays); the job itself is kept`);
    }
    const q = input.query();
    const streamCode = q.stream ? STREAM_CODE[q.stream] : undefined;
    const ndjson = q.format === 'ndjson';
    // Issue 14: one attempt's output (seqs from 0 in each); absent, the latest that may have any.
    const latest = Math.max(1, job.attempt);
    if (q.attempt !== undefined && q.attempt > Math.max(latest, currentAttempt(job))) {
      throw new AppError(404, 'not_found', `job ${JSON.stringify(job.id)} has no attempt ${q.attempt} (its latest is ${currentAttempt(job)})`);
    }
    const attempt = q.attempt ?? latest;
    c.header('Content-Type', ndjson ? 'application/x-ndjson' : 'application/octet-stream');
    c.header('X-Job-Status', job.status);
    c.header('X-Job-Attempt', String(attempt));
    return stream(c, async (out) => {
      for await (const page of readOutput(sql, job.id, { attempt, afterSeq: q.after, stream: streamCode })) {
        if (ndjson) {
          const lines = page.map((ch) => JSON.stringify({ seq: ch.seq, stream: STREAM_NAME[ch.stream], data: ch.data.toString('base64'), ts: ch.createdAt.toISOString() }) + '\n');
          await out.write(lines.join(''));
        } else {
          await out.write(Buffer.concat(page.map((ch) => ch.data)));
        }
        if (out.aborted) return;
      }
    });
  }, { scope: 'jobs:read' });

  return app;
}
