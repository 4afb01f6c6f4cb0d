/**
 * POST /v1/jobs under concurrency (issue 16, group commit: jobs/insert-job-grouped.ts,
 * queue/enqueue-grouped.ts, the token lookups of auth/token-store.ts): submissions that arrive
 * together share statements, and yet each request is answered as if it were alone. Over real HTTP
 * to a real API process, against the real Postgres and Redis.
 */
import { Queue } from 'bullmq';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy, TEST_REDIS_URL, TestSystem, waitFor } from '@vmo/testkit';

const queueOf = (system: TestSystem) => new Queue('jobs', { connection: { url: TEST_REDIS_URL }, prefix: `{${system.env.VMO_REDIS_PREFIX}}` });

describe('concurrent submissions (no worker: the jobs stay queued)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let queue: Queue;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'submit_group', workers: 0 });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    queue = queueOf(system);
  });
  afterAll(async () => {
    await queue?.close();
    await sql?.end({ timeout: 5 });
    await system?.stop(); // checks that every request made through the test kit has its audit row
  });

  it('200 at once: every one 201 with its own id, each row in Postgres once, each in the queue once, an audit row each', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => system.client.request('POST', '/v1/jobs', { command: `echo ${i}`, labels: { n: String(i) } })));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
    const ids = answers.map((a) => a.body.id as string);
    expect(new Set(ids).size).toBe(200);
    answers.forEach((a, i) => expect(a.body).toMatchObject({ command: `echo ${i}`, labels: { n: String(i) }, status: 'queued' }));

    const rows = await sql<{ id: string; command: string; tx: string }[]>`select id, command, xmin::text as tx from jobs where id = any(${ids}::text[])`;
    expect(rows).toHaveLength(200);
    const byId = new Map(rows.map((r) => [r.id, r]));
    ids.forEach((id, i) => expect(byId.get(id)?.command).toBe(`echo ${i}`));
    const statements = new Set(rows.map((r) => r.tx)).size;
    console.log(`[group commit] 200 concurrent submissions stored by ${statements} statements`);
    expect(statements).toBeLessThan(200); // they did share statements

    // In the queue, each once (BullMQ keys entries by the job's id) and nothing else there.
    const entries = await Promise.all(ids.map((id) => queue.getJob(id)));
    entries.forEach((e, i) => expect(e?.data, ids[i]).toEqual({ jobId: ids[i] }));
    const counts = await queue.getJobCounts('wait', 'prioritized', 'delayed', 'active');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(200);

    const [audited] = await sql<{ n: number; distinct_jobs: number }[]>`
      select count(*)::int as n, count(distinct resource_id)::int as distinct_jobs from audit_events
      where action = 'jobs.submit' and status = 201 and resource_id = any(${ids}::text[])`;
    expect(audited).toEqual({ n: 200, distinct_jobs: 200 });
  });

  it('a job naming an unknown agent fails alone with 422 unknown_agent; the others of its batch are accepted', async () => {
    const agent = await system.client.request('POST', '/v1/agents', { name: 'gc-agent' });
    expect(agent.status, agent.text).toBe(201);
    const bodies = Array.from({ length: 40 }, (_, i) =>
      i === 17 ? { command: 'echo lost', target: { type: 'agent', agent: 'no-such-agent' } } : i % 2 ? { command: `echo a${i}`, target: { type: 'agent', agent: 'gc-agent' } } : { command: `echo l${i}` },
    );
    const answers = await Promise.all(bodies.map((b) => system.client.request('POST', '/v1/jobs', b)));
    answers.forEach((a, i) => {
      if (i === 17) {
        expect(a.status, a.text).toBe(422);
        expect(a.body.error).toEqual({ code: 'unknown_agent', message: 'no agent with id or name "no-such-agent"; see GET /v1/agents' });
      } else {
        expect(a.status, a.text).toBe(201);
        if (i % 2) expect(a.body.agentId).toBe(agent.body.id);
      }
    });
    const accepted = answers.filter((a) => a.status === 201).map((a) => a.body.id as string);
    const [stored] = await sql<{ n: number }[]>`select count(*)::int as n from jobs where id = any(${accepted}::text[])`;
    expect(stored!.n).toBe(39);
    const [lost] = await sql<{ n: number }[]>`select count(*)::int as n from jobs where command = 'echo lost'`;
    expect(lost!.n).toBe(0);
    const [refusal] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where action = 'jobs.submit' and status = 422 and detail->>'code' = 'unknown_agent'`;
    expect(refusal!.n).toBe(1);
  });
});

describe('Redis away during a batch', () => {
  let proxy: TcpProxy;
  let system: TestSystem;

  beforeAll(async () => {
    proxy = await TcpProxy.start(Number(new URL(TEST_REDIS_URL).port || 6379), new URL(TEST_REDIS_URL).hostname);
    // API and worker reach Redis through the proxy: cutting it takes Redis away from both.
    system = await TestSystem.start({ label: 'submit_group_redis', env: { VMO_REDIS_URL: `redis://127.0.0.1:${proxy.port}`, VMO_MAINTENANCE_MS: '500' } });
  });
  afterAll(async () => {
    await system?.stop();
    await proxy?.close();
  });

  it('still answers 201 for each (the rows are committed), and the reconciler enqueues them once Redis is back: each runs once', async () => {
    proxy.cut();
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => system.client.request('POST', '/v1/jobs', { command: `echo r${i}` })));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
    // The adds did meet Redis away (the API says so), and only the reconciler put the jobs in the queue.
    await waitFor('the API to log the adds Redis did not take', () => system.apis[0]!.output.includes('not enqueued (Redis unavailable)'), 30_000);
    proxy.restore();
    for (const [i, a] of answers.entries()) {
      const ended = await system.client.waitForEnd(a.body.id, 120_000);
      expect(ended).toMatchObject({ status: 'succeeded', attempt: 1 });
      expect((await system.client.logs(a.body.id)).toString()).toBe(`r${i}\n`);
    }
    expect(system.workers[0]!.output).toContain('reconciler re-enqueued queued jobs unknown to BullMQ');
  }, 240_000);
});
