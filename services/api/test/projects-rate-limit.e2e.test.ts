/**
 * Issue 11 §Hardening (review finding 5), projects: a discovery submits a job, so GET
 * /v1/projects/{alias}/targets counts against VMO_SUBMIT_RATE whenever it discovers (a project's
 * first discovery, or ?refresh=true), with POST /v1/jobs in the same budget; past it 429
 * `rate_limited` with Retry-After and no job. Reading cached targets is not a submission.
 * Real API and worker processes; the project on the local target.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, writeMakeProject } from '@vmo/testkit';

describe('projects: discoveries count as submissions (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let root: string;
  const jobs = async (): Promise<number> => Number((await sql`select count(*)::int as n from jobs`)[0]!.n);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vmo-projects-rate-'));
    await writeMakeProject(root);
    system = await TestSystem.start({ label: 'projects_rate', env: { VMO_SUBMIT_RATE: '3/5m' } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    const res = await system.client.request('POST', '/v1/projects', { alias: 'web', dir: root, target: { type: 'local' } });
    expect(res.status, res.text).toBe(201);
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
    // The budget (3) is spent: cached reads still answer, a refresh does not.
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
});
