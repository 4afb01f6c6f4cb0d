/**
 * GET /v1/jobs must not read the whole jobs table for a page: for each filter, Postgres' plan of
 * the statement listJobs sends (over enough rows that a scan costs more than an index) uses an
 * index and no sequential scan. It caught the listing ordering by `created_at desc` (NULLS FIRST)
 * while every index is `DESC NULLS LAST`: a sequential scan and a sort on every page.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLabelSelector } from '../src/domain/label-selector.ts';
import { listJobsStatement, type ListJobsQuery } from '../src/jobs/queries/list-jobs.ts';
import { createTestDatabase, type TestDatabase } from '@vmo/testkit';

const ROWS = 60_000;

describe('GET /v1/jobs query plans', () => {
  let testDb: TestDatabase;
  let sql: postgres.Sql;

  beforeAll(async () => {
    testDb = await createTestDatabase('list_jobs_plan');
    sql = postgres(testDb.url, { max: 1, onnotice: () => {} });
    // 1 job in 50 on one of 500 hosts, 1 in 40 on one of 100 agents, 1 in 10,000 labelled rare.
    await sql`
      insert into jobs (id, status, command, target, agent_id, host_id, timeout_ms, labels, created_at)
      select 'job_' || lpad(g::text, 20, '0'),
             (array['succeeded','failed','lost','canceled'])[1 + g % 4],
             'true', '{"type":"local"}'::jsonb,
             case when g % 40 = 1 then 'agt_' || lpad((g % 100)::text, 20, '0') end,
             case when g % 50 = 0 then 'host_' || lpad((g % 500)::text, 20, '0') end,
             1000,
             jsonb_build_object('team', 'team' || (g % 20)) || case when g % 10000 = 0 then '{"rare":"yes"}'::jsonb else '{}'::jsonb end,
             now() - make_interval(secs => ${ROWS} - g)
      from generate_series(1, ${ROWS}) g`;
    await sql`analyze jobs`;
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await testDb?.drop();
  });

  const plan = async (q: Omit<ListJobsQuery, 'limit'>) => {
    const [row] = await sql`explain (format json) ${listJobsStatement(sql, { limit: 50, ...q })}`;
    return JSON.stringify(row!['QUERY PLAN']);
  };

  it.each<[string, Omit<ListJobsQuery, 'limit'>]>([
    ['no filter', {}],
    ['a cursor deep in the table', { cursor: `job_${String(ROWS / 3).padStart(20, '0')}` }],
    ['one status', { status: ['failed'] }],
    ['several statuses', { status: ['failed', 'lost'] }],
    ['an agent', { agentId: `agt_${'1'.padStart(20, '0')}` }],
    ['a target host', { target: { agentIds: [], hostIds: [`host_${'100'.padStart(20, '0')}`] } }],
    ['a rare label', { labels: parseLabelSelector('rare=yes') }],
    ['a rare label key', { labels: parseLabelSelector('rare') }],
    ['a common label', { labels: parseLabelSelector('team=team3') }],
  ])('%s: an index, no sequential scan', async (_what, q) => {
    const p = await plan(q);
    expect(p).not.toContain('Seq Scan');
    expect(p).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
  });
});
