/**
 * The target gate's counts must read one target's active jobs, not its whole history nor every
 * active job in the system (review finding 4.2): with a table holding a busy agent's and a busy
 * host's long history and many active jobs on other targets, Postgres' plan of each statement the
 * gate sends (captured from the real functions, then explained with their parameters) walks
 * jobs_agent_line_idx / jobs_host_line_idx, and neither jobs_active_idx nor the targets' history
 * indexes, and nothing sequentially. The `agent_id = … or host_id = …` form it replaces read the
 * bitmap of every active job and the target's whole history on every look (49 ms against 0.9 ms
 * for an agent with 200,000 past jobs).
 *
 * Also the reconciler's page (finding 1.4): a seek in jobs_released_idx, no sort of the backlog.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@vmo/testkit';
import type { Database } from '../src/db/index.ts';
import { getJob, getJobWithPosition, lookAtGate, queuePositions, queuedJobsOlderThan, wakeTargetWaiters } from '../src/jobs/index.ts';
import { startJob } from '../src/jobs/lifecycle/sql/start-job.ts';
import { createLogger } from '../src/logger.ts';

const HISTORY = 60_000;
const ACTIVE = 6_000;
const pad = (n: number) => String(n).padStart(20, '0');
const BUSY_AGENT = `agt_${pad(1)}`;
const BUSY_HOST = `host_${pad(1)}`;

let testDb: TestDatabase;
let sql: postgres.Sql;
/** Every statement the capturing client sent since the last `take()`, with its parameters. */
let sent: { query: string; parameters: unknown[] }[] = [];
let capturing: postgres.Sql;
/** The last queued job of the busy agent and of the busy host (the back of each line). */
let agentJob: string;
let hostJob: string;

beforeAll(async () => {
  testDb = await createTestDatabase('target_gate_plan');
  sql = postgres(testDb.url, { max: 1, onnotice: () => {} });
  capturing = postgres(testDb.url, { max: 1, onnotice: () => {}, debug: (_c, query, parameters) => void sent.push({ query, parameters }) });
  // 50 agents and 50 hosts, the busy ones limited to 2 at a time.
  await sql`
    insert into agents (id, name, token_hash, max_concurrent_jobs)
    select 'agt_' || lpad(g::text, 20, '0'), 'a' || g, 'h' || g, case when g = 1 then 2 end from generate_series(1, 50) g`;
  await sql`
    insert into hosts (id, name, host, "user", max_concurrent_jobs)
    select 'host_' || lpad(g::text, 20, '0'), 'h' || g, '127.0.0.1', 'u', case when g = 1 then 2 end from generate_series(1, 50) g`;
  // History: a third on the busy agent, a third on the busy host, a third elsewhere.
  await sql`
    insert into jobs (id, status, command, target, agent_id, host_id, timeout_ms, created_at, released_at)
    select 'job_h' || lpad(g::text, 20, '0'), (array['succeeded','failed','lost','canceled'])[1 + g % 4], 'true', '{"type":"local"}'::jsonb,
           case when g % 3 = 0 then ${BUSY_AGENT} when g % 3 = 1 then 'agt_' || lpad((2 + g % 49)::text, 20, '0') end,
           case when g % 3 = 2 then ${BUSY_HOST} end,
           1000, now() - interval '1 day' + make_interval(secs => g), now() - interval '1 day' + make_interval(secs => g)
    from generate_series(1, ${HISTORY}) g`;
  // Active: queued (a few held by their run) and running, on every target; the busy ones have 2 running and ~60 waiting.
  await sql`
    insert into jobs (id, status, command, target, agent_id, host_id, timeout_ms, created_at, released_at)
    select 'job_a' || lpad(g::text, 20, '0'), case when g % 23 = 0 then 'running' else 'queued' end, 'true', '{"type":"local"}'::jsonb,
           case when g % 2 = 0 then 'agt_' || lpad((1 + (g / 2) % 50)::text, 20, '0') end,
           case when g % 2 = 1 then 'host_' || lpad((1 + (g / 2) % 50)::text, 20, '0') end,
           1000, now() - interval '2 hours' + make_interval(secs => g), case when g % 97 <> 0 then now() - interval '2 hours' + make_interval(secs => g) end
    from generate_series(1, ${ACTIVE}) g`;
  await sql`analyze jobs, agents, hosts`;
  const back = async (column: 'agent_id' | 'host_id', id: string) =>
    (await sql<{ id: string }[]>`select id from jobs where ${sql(column)} = ${id} and status = 'queued' and released_at is not null order by created_at desc limit 1`)[0]!.id;
  agentJob = await back('agent_id', BUSY_AGENT);
  hostJob = await back('host_id', BUSY_HOST);
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await capturing?.end();
  await testDb?.drop();
});

/** Run `fn` against the capturing client and return the statements it sent that match `which`. */
async function statementsOf(fn: () => Promise<unknown>, which: RegExp): Promise<{ query: string; parameters: unknown[] }[]> {
  await capturing`select 1`; // the client's own setup is not the function's
  sent = [];
  await fn();
  const found = sent.filter((s) => which.test(s.query));
  expect(found.length, `a statement matching ${which}`).toBeGreaterThan(0);
  return found;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Every node of the plan Postgres chooses for the statement, with the parameters it was sent with. */
async function planOf(statement: { query: string; parameters: unknown[] }): Promise<PlanNode[]> {
  const [row] = await sql.unsafe(`explain (format json) ${statement.query}`, statement.parameters as postgres.ParameterOrJSON<never>[]);
  const nodes: PlanNode[] = [];
  const walk = (n: PlanNode) => {
    nodes.push(n);
    for (const child of n.Plans ?? []) walk(child);
  };
  walk((row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan);
  return nodes;
}

const indexesOf = (plan: PlanNode[]) => plan.flatMap((n) => (n['Index Name'] ? [n['Index Name']] : []));

/**
 * Reads the jobs table only through the targets' line indexes (and the primary key): no scan of
 * every active job, of a target's history, nor of the table. (The few agents and hosts rows may be
 * read any way.)
 */
function expectLineIndexes(plan: PlanNode[], kinds: ('agent' | 'host')[]) {
  expect(plan.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'jobs')).toEqual([]);
  const indexes = indexesOf(plan);
  expect(indexes.filter((i) => i.startsWith('jobs_') && i !== 'jobs_pkey' && !i.endsWith('_line_idx'))).toEqual([]);
  for (const kind of kinds) expect(indexes).toContain(`jobs_${kind}_line_idx`);
  // One equality on the target's own column per count: `agent_id = … or host_id = …` read both indexes and merged them.
  expect(plan.filter((n) => n['Node Type'] === 'BitmapOr')).toEqual([]);
}

const sorts = (plan: PlanNode[]) => plan.filter((n) => n['Node Type'] === 'Sort');

describe('target gate query plans (many active jobs, long target histories)', () => {
  it.each([
    ['agent', () => agentJob],
    ['host', () => hostJob],
  ] as const)('the look at the gate of a %s job (the worker, each refused start and look-again)', async (_kind, job) => {
    const [statement] = await statementsOf(() => lookAtGate(capturing, job()), /gate_ahead/);
    // One CASE branch per kind, each on its own index (the one not taken never runs).
    expectLineIndexes(await planOf(statement!), ['agent', 'host']);
  });

  it('GET /v1/jobs/{id} of a waiting job: one statement, its queuePosition on the line index', async () => {
    const statements = await statementsOf(() => getJobWithPosition(capturing, agentJob), /.*/);
    expect(statements).toHaveLength(1);
    expectLineIndexes(await planOf(statements[0]!), ['agent', 'host']);
  });

  it('queuePositions of a page of jobs (GET /v1/jobs)', async () => {
    const rows = await Promise.all([agentJob, hostJob].map(async (id) => (await getJob(sql, id))!));
    const [statement] = await statementsOf(() => queuePositions(capturing, rows), /ahead/);
    expectLineIndexes(await planOf(statement!), ['agent', 'host']);
  });

  it.each([
    ['agent', BUSY_AGENT, () => agentJob],
    ['host', BUSY_HOST, () => hostJob],
  ] as const)('the gated start of a %s job', async (kind, target, job) => {
    // The busy target is full (2 running of 2): the start is turned away, its UPDATE still planned as sent.
    const [statement] = await statementsOf(() => startJob(capturing, job(), 'w', kind === 'agent' ? target : null), /target_limit/);
    expectLineIndexes(await planOf(statement!), [kind]);
  });

  it.each([
    ['agent', BUSY_AGENT],
    ['ssh', BUSY_HOST],
  ] as const)('the wake-up of an %s target\'s next waiters', async (kind, id) => {
    const database = { sql: capturing } as unknown as Database;
    const cp = { database, queue: undefined as never, log: createLogger('target-gate-plan', 'silent') };
    // Full, so nobody is woken and no queue is needed: the statement is what is looked at.
    const [statement] = await statementsOf(() => wakeTargetWaiters(cp, { kind, id }), /first_waiters/);
    const plan = await planOf(statement!);
    expectLineIndexes(plan, [kind === 'agent' ? 'agent' : 'host']);
    expect(sorts(plan)).toEqual([]); // the line is read in index order, first ones only
  });

  it('the reconciler\'s page: a seek in jobs_released_idx, no sort of the backlog', async () => {
    const [first] = await queuedJobsOlderThan(sql, 0, { limit: 1 });
    for (const after of [undefined, first!.place]) {
      const [statement] = await statementsOf(() => queuedJobsOlderThan(capturing, 0, { after, limit: 1000 }), /released_key/);
      const plan = await planOf(statement!);
      expect(plan.filter((n) => n['Node Type'] === 'Seq Scan')).toEqual([]);
      expect(sorts(plan)).toEqual([]);
      expect(indexesOf(plan)).toEqual(['jobs_released_idx']);
    }
  });
});
