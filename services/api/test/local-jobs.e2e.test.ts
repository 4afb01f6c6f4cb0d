import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, type ApiResponse } from '@vmo/testkit';
import { jobBehaviourSuite } from './job-behaviour-suite.ts';

/** Local jobs through the real API and worker processes: what a user sees over REST. */
describe('local jobs (real API + worker)', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'local_jobs' });
  });
  afterAll(async () => {
    await system?.stop();
  });

  jobBehaviourSuite(() => ({ client: system.client, target: { type: 'local' }, hostOnlyVar: 'VMO_DATABASE_URL' }));

  it('answers 201 with the queued job and a Location header that leads to it', async () => {
    const res = await system.client.request('POST', '/v1/jobs', { command: 'echo hi', target: { type: 'local' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'queued', command: 'echo hi', target: { type: 'local' }, exitCode: null, startedAt: null, finishedAt: null });
    expect(res.body.id).toMatch(/^job_[0-9a-z]{20}$/);
    expect(res.headers.get('location')).toBe(`/v1/jobs/${res.body.id}`);
    const got = await system.client.request('GET', res.headers.get('location')!);
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(res.body.id);
    expect((await system.client.waitForEnd(res.body.id)).status).toBe('succeeded');
  });

  it('answers 404 with a JSON error body for unknown job ids', async () => {
    for (const id of ['job_00000000000000000000', 'not-a-job-id']) {
      for (const path of [`/v1/jobs/${id}`, `/v1/jobs/${id}/logs`, `/v1/jobs/${id}/cancel`]) {
        const res = await system.client.request(path.endsWith('cancel') ? 'POST' : 'GET', path);
        expect(res.status, path).toBe(404);
        expect(res.body.error, path).toEqual({ code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) });
      }
    }
  });

  it('lists jobs newest first with keyset pagination that stays stable while jobs are added', async () => {
    const { client } = system;
    const originals: string[] = [];
    for (let i = 0; i < 7; i++) originals.push((await client.submit({ command: `echo page-${i}` })).id);

    const seen: string[] = [];
    const added: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: ApiResponse = await client.request('GET', `/v1/jobs?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.items.map((j: { id: string }) => j.id));
      const times = res.body.items.map((j: { createdAt: string }) => Date.parse(j.createdAt));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      cursor = res.body.nextCursor;
      // New jobs land in front of the cursor: they must neither shift nor repeat what follows.
      added.push((await client.submit({ command: 'true' })).id, (await client.submit({ command: 'true' })).id);
      pages++;
    } while (cursor && pages < 100);

    expect(cursor).toBeNull();
    expect(new Set(seen).size).toBe(seen.length); // no duplicates
    expect(seen.filter((id) => originals.includes(id))).toEqual([...originals].reverse()); // no skips, newest first
    expect(seen.some((id) => added.includes(id))).toBe(false); // nothing newer than the first page leaks in

    const first = await client.request('GET', '/v1/jobs?limit=1');
    expect(first.body.items[0].id).toBe(added[added.length - 1]);
    await Promise.all([...originals, ...added].map((id) => client.waitForEnd(id)));
  });

  it('filters the list by status', async () => {
    const { client } = system;
    const failed = await client.submit({ command: 'exit 7' });
    const ok = await client.submit({ command: 'true' });
    await Promise.all([client.waitForEnd(failed.id), client.waitForEnd(ok.id)]);

    const res = await client.request('GET', '/v1/jobs?status=failed&limit=500');
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeGreaterThan(0);
    expect(res.body.items.every((j: { status: string }) => j.status === 'failed')).toBe(true);
    const ids = res.body.items.map((j: { id: string }) => j.id);
    expect(ids).toContain(failed.id);
    expect(ids).not.toContain(ok.id);

    const bad = await client.request('GET', '/v1/jobs?status=bogus');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/status/);
  });

  it('cancels a queued job without running it (no worker running), and the queue moves on', async () => {
    const { client } = system;
    for (const w of system.workers) await w.stop();
    const job = await client.submit({ command: 'echo ran > /dev/stderr; echo should-not-run' });
    expect(job.status).toBe('queued');

    const cancel = await client.request('POST', `/v1/jobs/${job.id}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.body.status).toBe('canceled');
    expect((await client.request('POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(409);

    // A fresh worker takes the next job; the canceled one stays canceled and never ran.
    await system.startWorker();
    const next = await client.submit({ command: 'echo next' });
    expect((await client.waitForEnd(next.id)).status).toBe('succeeded');
    const after = await client.job(job.id);
    expect(after).toMatchObject({ status: 'canceled', startedAt: null, exitCode: null, outputBytes: 0 });
    expect((await client.logs(job.id)).length).toBe(0);
  });
});
