/**
 * The roll-up sweep (runs/roll-up.ts sweepActiveRuns) with more active runs than one sweep looks
 * at: each sweep goes on from where the last stopped and wraps to the oldest, so a run newer than
 * a page of long-running ones still converges. No roll-up observer is registered in this file:
 * children change unobserved, as when the process that should have rolled their run up died.
 * And the one statement that counts a run's children, read over jobs_run_idx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transition } from '../src/jobs/index.ts';
import { CHILD_GROUPS_SQL, readRunCounts, submitRun, sweepActiveRuns } from '../src/runs/index.ts';
import { openRunTestPlane, runInput, type RunTestPlane } from './runs-fixture.ts';

let t: RunTestPlane;
/** More than one sweep's page (500). */
const LONG_RUNS = 501;

beforeAll(async () => {
  t = await openRunTestPlane('runs_sweep');
  await t.addAgent('sweep-node');
});

afterAll(async () => {
  await t?.close();
});

describe('the sweep over more active runs than one page', () => {
  it('reaches a run beyond the oldest page, and wraps to the oldest again', async () => {
    const sql = t.cp.database.sql;
    // Long-running runs, all older than the one under test: each has one child still running.
    await sql`
      insert into runs (id, status, command, timeout_ms, targets, strategy, total, created_at, started_at)
      select 'run_long' || lpad(g::text, 15, '0'), 'running', 'sleep 1000', 3600000, '{"agents":["sweep-node"]}'::jsonb,
             '{"maxConcurrency":1,"maxErrors":null,"canary":null}'::jsonb, 1, now() - interval '1 hour' + g * interval '1 millisecond', now()
      from generate_series(1, ${LONG_RUNS}) g`;
    await sql`
      insert into jobs (id, status, command, target, timeout_ms, run_id, run_index, target_name, target_kind, released_at, started_at, attempt, worker_id)
      select 'job_long' || lpad(g::text, 15, '0'), 'running', 'sleep 1000', '{"type":"local"}'::jsonb, 3600000,
             'run_long' || lpad(g::text, 15, '0'), 0, 'sweep-node', 'agent', now(), now(), 1, 'gone-worker'
      from generate_series(1, ${LONG_RUNS}) g`;

    // The newest run: its only child ends while nobody observes it.
    const { run } = await submitRun(t.cp, runInput({ targets: { agents: ['sweep-node'] } }), { createdBy: null, maxTargets: 10 });
    const [child] = await t.children(run.id);
    const started = await transition(t.cp, child!.id, { kind: 'start', workerId: 'w', checkedAgentId: child!.agentId });
    await transition(t.cp, child!.id, { kind: 'exit', attempt: started!.attempt, exit: { exitCode: 0, signal: null, truncated: false } });
    expect((await t.run(run.id)).status).not.toBe('succeeded');

    // ceil(502 / 500) = 2 sweeps reach every active run.
    expect(await sweepActiveRuns(t.cp)).toBe(500);
    expect(await sweepActiveRuns(t.cp)).toBe(2);
    expect((await t.run(run.id)).status).toBe('succeeded');

    // The oldest long run's child ends unobserved: the sweeps wrap around to it.
    const oldest = 'job_long' + '1'.padStart(15, '0');
    await transition(t.cp, oldest, { kind: 'exit', attempt: 1, exit: { exitCode: 0, signal: null, truncated: false } });
    await sweepActiveRuns(t.cp); // the last one found the newest: this one starts from the oldest
    expect((await t.run('run_long' + '1'.padStart(15, '0'))).status).toBe('succeeded');
  }, 120_000);

  it("counts a run's children (roll-up, run view, stream progress: one statement) over jobs_run_idx, never a scan of every job", async () => {
    const sql = t.cp.database.sql;
    await sql`
      insert into jobs (id, status, command, target, timeout_ms, created_at)
      select 'job_single' || lpad(g::text, 13, '0'), 'succeeded', 'true', '{"type":"local"}'::jsonb, 60000, now() - interval '2 days'
      from generate_series(1, 30000) g`;
    await sql`analyze jobs`;
    const runId = 'run_long' + '2'.padStart(15, '0');
    expect(await readRunCounts(sql, runId)).toEqual({ queued: 0, running: 1, succeeded: 0, failed: 0, canceled: 0, timed_out: 0, lost: 0, skipped: 0 });
    expect(await readRunCounts(sql, 'run_nosuchrun0000000000')).toBeUndefined();
    const [plan] = await sql.unsafe(`explain (format json) select ${CHILD_GROUPS_SQL} as groups from runs where runs.id = $1`, [runId]);
    const text = JSON.stringify(plan!['QUERY PLAN']);
    // Either of the run's indexes (jobs_run_idx, or jobs_run_status_idx which also serves the stream's idle check).
    expect(text).toMatch(/jobs_run_(status_)?idx/);
    expect(text).not.toMatch(/Seq Scan[^}]*"Relation Name":"jobs"/);
  }, 60_000);
});
