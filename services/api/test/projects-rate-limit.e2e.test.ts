/**
 * Issue 11 §Hardening (review finding 5), projects: a discovery submits a job, so GET
 * /v1/projects/{alias}/targets counts against VMO_SUBMIT_RATE whenever it discovers (a project's
 * first discovery, or ?refresh=true), with POST /v1/jobs in the same budget; past it 429
 * `rate_limited` with Retry-After and no job. Reading cached targets is not a submission. One user
 * holds at most 4 discoveries open at once (per API node): the fifth is 429 at once.
 * Real API and worker processes; the project on the local target.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor, writeMakeProject } from '@vmo/testkit';

describe('projects: discoveries count as submissions (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let root: string;
  const jobs = async (): Promise<number> => Number((await sql`select count(*)::int as n from jobs`)[0]!.n);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vmo-projects-rate-'));
    await writeMakeProject(root);
    system = await TestSystem.start({ label: 'projects_rate', env: { VMO_SUBMIT_RATE: '6/5m' } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    const res = await system.client.request('POST', '/v1/projects', { alias: 'web', dir: root, target: { type: 'local' } });
    expect(res.status, res.text).toBe(201);
    // Its list command takes a while: discoveries of it stay open long enough to overlap.
    const slow = await system.client.request('POST', '/v1/projects', { alias: 'slow', dir: root, target: { type: 'local' }, listCommand: 'sleep 5; echo build' });
    expect(slow.status, slow.text).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('the first discovery and each refresh count, with POST /v1/jobs; past the limit 429 with Retry-After and no job; cached reads do not count', async () => {
    const first = await system.client.request('GET', '/v1/projects/web/targets');
    expect(first.status, first.text).toBe(200);
    expect(first.body.cached).toBe(false);
    expect((await system.client.request('GET', '/v1/projects/web/targets?refresh=true')).status).toBe(200);
    expect((await system.client.request('POST', '/v1/jobs', { command: 'true', target: { type: 'local' } })).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await system.client.request('GET', '/v1/projects/web/targets?refresh=true')).status).toBe(200);
    // The budget (6) is spent: cached reads still answer, a refresh does not.
    for (let i = 0; i < 3; i++) {
      const cached = await system.client.request('GET', '/v1/projects/web/targets');
      expect([cached.status, cached.body.cached], cached.text).toEqual([200, true]);
    }
    const before = await jobs();
    const refused = await system.client.request('GET', '/v1/projects/web/targets?refresh=true');
    expect([refused.status, refused.body.error?.code], refused.text).toEqual([429, 'rate_limited']);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await jobs()).toBe(before);
  });

  it('one user holds at most 4 discoveries open: a fifth at the same time is 429 with Retry-After, the four end as usual', async () => {
    const created = await system.client.request('POST', '/v1/users', { name: 'ops', role: 'admin' });
    expect(created.status, created.text).toBe(201);
    const token = await system.client.request('POST', '/v1/tokens', { name: "ops's token", user: 'ops' });
    expect(token.status, token.text).toBe(201);
    const ops = system.clientFor(0, token.body.token as string);
    const held = Array.from({ length: 4 }, () => ops.request('GET', '/v1/projects/slow/targets?refresh=true&timeoutMs=60000'));
    // The four are open once their jobs exist (each is submitted before its request waits).
    await waitFor('four discovery jobs', async () => Number((await sql`select count(*)::int as n from jobs where created_by = 'ops'`)[0]!.n) === 4, 30_000);
    const fifth = await ops.request('GET', '/v1/projects/slow/targets?refresh=true&timeoutMs=60000');
    expect([fifth.status, fifth.body.error?.code], fifth.text).toEqual([429, 'rate_limited']);
    expect(fifth.body.error.message).toContain('at most 4 at once');
    expect(Number(fifth.headers.get('retry-after'))).toBeGreaterThan(0);
    const answers = await Promise.all(held);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers[0]!.body.targets.map((t: { name: string }) => t.name)).toEqual(['build']);
    expect(Number((await sql`select count(*)::int as n from jobs where created_by = 'ops'`)[0]!.n)).toBe(4);
  });
});
