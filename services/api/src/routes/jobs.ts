import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { eq } from 'drizzle-orm';
import { jobs } from '@vmo/shared/db';
import { badRequest, notFound, storableString } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import { JOB_STATUSES, JobInput, STREAM_CODE, STREAM_NAME, jobView, listJobs, readOutput, stopJob, submitJob, type ControlPlane } from '@vmo/shared/jobs';
import { IdempotencyKey, resolveAgent } from '@vmo/shared/jobs';
import type { AuthEnv } from '../auth/principal.ts';
import { jsonBody, queryParams } from '../http/json-body.ts';
import { pathParam } from '../http/path-param.ts';

const ListQuery = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    agent: storableString().min(1).max(255).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().regex(/^job_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page').optional(),
  })
  .strict();

const LogsQuery = z
  .object({
    stream: z.enum(['stdout', 'stderr']).optional(),
    after: z.coerce.number().int().min(-1).max(2 ** 31 - 1).default(-1),
    format: z.enum(['raw', 'ndjson']).default('raw'),
  })
  .strict();

const CancelBody = z.object({ graceMs: z.number().int().min(0).max(3_600_000).default(10_000) }).strict();

export function jobRoutes(cp: ControlPlane) {
  const loadJob = async (id: string) => {
    if (!isId('job', id)) throw notFound('job', id);
    const [row] = await cp.database.db.select().from(jobs).where(eq(jobs.id, id)).limit(1);
    if (!row) throw notFound('job', id);
    return row;
  };

  return new Hono<AuthEnv>()
    .post('/', async (c) => {
      const input = await jsonBody(c, JobInput);
      const principal = c.get('principal');
      const key = c.req.header('idempotency-key');
      let idempotency;
      if (key !== undefined) {
        const parsed = IdempotencyKey.safeParse(key);
        if (!parsed.success) throw badRequest('validation_failed', `Idempotency-Key: ${parsed.error.issues[0]?.message}`, { field: 'Idempotency-Key' });
        idempotency = { principal: principal.tokenId, key: parsed.data };
      }
      const { replayed, ...job } = await submitJob(cp, input, principal.name, idempotency);
      c.header('Location', `/v1/jobs/${job.id}`);
      if (replayed) c.header('Idempotent-Replayed', 'true');
      return c.json(job, 201);
    })
    .get('/', async (c) => {
      const q = queryParams(c, ListQuery);
      let agentId: string | undefined;
      if (q.agent) agentId = (await resolveAgent(cp, q.agent))?.id ?? q.agent;
      return c.json(await listJobs(cp, { status: q.status, agentId, limit: q.limit, cursor: q.cursor }));
    })
    .get('/:id', async (c) => c.json(jobView(await loadJob(pathParam(c, 'id')))))
    .post('/:id/cancel', async (c) => {
      const id = pathParam(c, 'id');
      await loadJob(id);
      const body = await jsonBody(c, CancelBody, { optional: true });
      return c.json(await stopJob(cp, id, 'canceled', body.graceMs), 202);
    })
    .get('/:id/logs', async (c) => {
      const job = await loadJob(pathParam(c, 'id'));
      const q = queryParams(c, LogsQuery);
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
    });
}
