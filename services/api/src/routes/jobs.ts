import { OpenAPIHono } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import { cancelJob, getJob, jobLogs, listJobs, submitJob } from '@vmo/shared/api';
import { notFound } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { STREAM_CODE, STREAM_NAME } from '@vmo/shared/domain';
import { findJobs, getJob as readJob, getJobWithPosition, jobView, readOutput, stopJob, submitJob as insertJob } from '@vmo/shared/jobs';
import { type AuthEnv, principalKey } from '../auth/principal.ts';
import { openapiRoute } from '../http/openapi-route.ts';

/** /v1/jobs: submit, list, read, cancel, and the stored output. The live stream is streams/job-stream.ts. */
export function jobRoutes(cp: ControlPlane) {
  const loadJob = async (id: string) => {
    if (!isId('job', id)) throw notFound('job', id);
    const row = await readJob(cp.database.sql, id);
    if (!row) throw notFound('job', id);
    return row;
  };
  const app = new OpenAPIHono<AuthEnv>();

  openapiRoute(app, submitJob, async (c, input) => {
    const body = await input.body();
    const key = input.headers()['Idempotency-Key'];
    const principal = c.get('principal');
    const idempotency = key === undefined ? undefined : { principal: principalKey(principal), key };
    const { replayed, ...job } = await insertJob(cp, body, principal.name, idempotency, principal.userId);
    c.header('Location', `/v1/jobs/${job.id}`);
    if (replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(job, 201);
  }, { scope: 'jobs:run' });

  openapiRoute(app, listJobs, async (c, input) => c.json(await findJobs(cp, input.query()), 200), { scope: 'jobs:read' });

  openapiRoute(app, getJob, async (c, input) => {
    const { id } = input.params();
    if (!isId('job', id)) throw notFound('job', id);
    const found = await getJobWithPosition(cp.database.sql, id); // one statement, with or without a limit on its target
    if (!found) throw notFound('job', id);
    return c.json(jobView(found.job, found.queuePosition), 200);
  }, { scope: 'jobs:read' });

  openapiRoute(app, cancelJob, async (c, input) => {
    const { id } = input.params();
    await loadJob(id);
    const body = await input.body();
    return c.json(await stopJob(cp, id, 'canceled', body.graceMs), 202);
  }, { scope: 'jobs:cancel' });

  openapiRoute(app, jobLogs, async (c, input) => {
    const job = await loadJob(input.params().id);
    const q = input.query();
    const streamCode = q.stream ? STREAM_CODE[q.stream] : undefined;
    const ndjson = q.format === 'ndjson';
    c.header('Content-Type', ndjson ? 'application/x-ndjson' : 'application/octet-stream');
    c.header('X-Job-Status', job.status);
    return stream(c, async (out) => {
      for await (const page of readOutput(cp.database.sql, job.id, { afterSeq: q.after, stream: streamCode })) {
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
