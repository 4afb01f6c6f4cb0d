/**
 * Issue 14, "Retention", against the real stack (API and worker processes, Postgres, Redis): the
 * retention pass (@vmo/shared/retention, run by every worker's loop) deletes ended jobs past
 * VMO_RETENTION_DAYS with everything they own (output, attempts, secrets), keeps those inside it,
 * never touches a queued or running job whatever its age, honours a job's `retainDays` both ways,
 * expires output alone past VMO_OUTPUT_RETENTION_DAYS (the job stays, `outputExpired`, its logs
 * 410 `output_expired`, its stream the flag and `end`), deletes runs once their children are gone,
 * prunes settled schedule fires and old audit rows, and never deletes more rows in one statement
 * than its batch. The clock is passed in (`now`), never waited for.
 *
 * The system's own workers run with retention off (0 days), so that only this file's passes delete;
 * the last case starts a worker with it on and watches its loop delete.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { openDatabase, type Database } from '@vmo/shared/db';
import { DAY_MS, TERMINAL_RUN_STATUSES, TERMINAL_STATUSES, type RetentionPolicy } from '@vmo/shared/domain';
import { newId } from '@vmo/shared/ids';
import { ENDED_JOB_STATUSES, ENDED_RUN_STATUSES, runRetentionPass, type RetentionPassOptions } from '@vmo/shared/retention';
import { openWebSocket, processesMatching, ServiceProcess, TestSystem, uniqueSleepArg, waitFor } from '@vmo/testkit';

const log = pino({ level: 'silent' });
const OFF = { VMO_RETENTION_DAYS: '0', VMO_AUDIT_RETENTION_DAYS: '0' };
/** Jobs 30 days, output as long, no audit pruning (the test kit's audit check reads the audit at stop()). */
const DEFAULTS: RetentionPolicy = { jobDays: 30, outputDays: 30, auditDays: null };
const marker = uniqueSleepArg(600);
const dir = mkdtempSync(join(tmpdir(), 'vmo-retention-'));

let system: TestSystem;
let database: Database;

beforeAll(async () => {
  system = await TestSystem.start({ label: 'retention', env: OFF });
  database = openDatabase(system.databaseUrl, { max: 4 });
}, 120_000);

afterAll(async () => {
  for (const pid of await processesMatching(marker)) process.kill(pid, 'SIGKILL');
  await database?.close();
  await system?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const later = (days: number) => new Date(Date.now() + days * DAY_MS);
const client = () => system.client;

/** A pass, taken again if another pass held the lock at that moment. */
const pass = (opts: RetentionPassOptions) =>
  waitFor('a retention pass that is not skipped', async () => {
    const counts = await runRetentionPass({ database, log }, opts);
    return counts.skipped ? undefined : counts;
  }, 30_000, 50);

/** What is left of a job in each table it owns rows of. */
async function rowsOf(jobId: string) {
  const [r] = await database.sql<{ jobs: number; output: number; attempts: number; secrets: number }[]>`
    select (select count(*)::int from jobs where id = ${jobId}) as jobs,
           (select count(*)::int from job_output where job_id = ${jobId}) as output,
           (select count(*)::int from job_attempts where job_id = ${jobId}) as attempts,
           (select count(*)::int from job_secrets where job_id = ${jobId}) as secrets`;
  return r!;
}

/** A job run to its end through the API (real output through the real pipeline). */
async function finishedJob(body: Record<string, unknown>) {
  const job = await system.client.submit(body);
  return system.client.waitForEnd(job.id);
}

describe('jobs past retention', () => {
  it('are deleted with their output, attempts and secrets; jobs inside it, queued or running are kept; retainDays both ways', async () => {
    const { client } = system;
    // Fails once, then succeeds: a job_attempts row, and output in two attempts.
    const flag = join(dir, 'once');
    const retried = await finishedJob({ command: `echo attempt; test -e '${flag}' || { touch '${flag}'; exit 3; }`, retry: { max: 1, backoff: { type: 'fixed', delayMs: 0 } } });
    expect([retried.status, retried.attempt]).toEqual(['succeeded', 2]);
    const kept90 = await finishedJob({ command: 'echo kept for 90 days', retainDays: 90 });
    const kept2 = await finishedJob({ command: 'echo kept for 2 days', retainDays: 2 });
    const plain = await finishedJob({ command: 'seq 1 200' });
    const running = await client.submit({ command: `sleep ${marker}` });
    await client.waitForStatus(running.id, 'running');
    const queued = await client.submit({ command: 'echo later', runAt: later(300).toISOString() });
    expect(await rowsOf(retried.id)).toEqual({ jobs: 1, output: 2, attempts: 1, secrets: 0 });

    // Day 3: only the job kept 2 days has gone.
    const day3 = await pass({ policy: DEFAULTS, now: later(3) });
    expect(day3).toMatchObject({ jobs: 1, outputRows: 1 });
    expect(await rowsOf(kept2.id)).toEqual({ jobs: 0, output: 0, attempts: 0, secrets: 0 });
    expect((await client.request('GET', `/v1/jobs/${kept2.id}`)).status).toBe(404);
    expect((await client.job(plain.id)).outputExpired).toBe(false);

    // Day 31: the jobs on the defaults go with everything they own; the one kept 90 days stays whole.
    // A secrets row left behind (the end observer drops them; the pass's delete must take one that
    // was not, or its foreign key refuses the job's). Written just before the pass: the workers'
    // maintenance sweep (dropEndedJobSecrets, every VMO_MAINTENANCE_MS) also takes such rows, and
    // took this one first on a loaded machine when it was written seconds earlier.
    await database.sql`insert into job_secrets (job_id, sealed) values (${retried.id}, '\\x00'::bytea)`;
    const day31 = await pass({ policy: DEFAULTS, now: later(31) });
    expect(day31).toMatchObject({ jobs: 2, attempts: 1 });
    for (const id of [retried.id, plain.id]) expect(await rowsOf(id)).toEqual({ jobs: 0, output: 0, attempts: 0, secrets: 0 });
    expect((await client.request('GET', `/v1/jobs/${plain.id}`)).status).toBe(404);
    expect((await client.logs(kept90.id)).toString()).toBe('kept for 90 days\n');

    // Day 91, and ten years on: the job kept 90 days has gone; queued and running jobs never go.
    await pass({ policy: DEFAULTS, now: later(91) });
    expect(await rowsOf(kept90.id)).toMatchObject({ jobs: 0, output: 0 });
    await pass({ policy: DEFAULTS, now: later(3650) });
    expect((await client.job(running.id)).status).toBe('running');
    expect((await client.job(queued.id)).status).toBe('queued');

    await client.request('POST', `/v1/jobs/${running.id}/cancel`, { graceMs: 0 });
    await client.request('POST', `/v1/jobs/${queued.id}/cancel`, {});
    await client.waitForEnd(running.id);
  }, 120_000);

  it('with retention off (0 days), only jobs with their own retainDays go', async () => {
    const own = await finishedJob({ command: 'echo mine', retainDays: 5 });
    const plain = await finishedJob({ command: 'echo plain' });
    await pass({ policy: { jobDays: null, outputDays: null, auditDays: null }, now: later(3650) }); // nothing at all to do
    expect((await rowsOf(own.id)).jobs).toBe(1);
    await pass({ policy: { jobDays: null, outputDays: null, auditDays: 365 }, now: later(6) });
    expect((await rowsOf(own.id)).jobs).toBe(0);
    expect(await rowsOf(plain.id)).toMatchObject({ jobs: 1, output: 1 });
  }, 60_000);
});

describe('output past VMO_OUTPUT_RETENTION_DAYS', () => {
  it('goes alone: the job stays with outputExpired, its logs answer 410 output_expired, its stream the flag and end', async () => {
    const { client } = system;
    const policy: RetentionPolicy = { jobDays: 30, outputDays: 7, auditDays: null };
    const job = await finishedJob({ command: 'seq 1 50; echo done >&2' });
    const own = await finishedJob({ command: 'echo kept with its job', retainDays: 10 });
    const before = await client.job(job.id);

    const day8 = await pass({ policy, now: later(8) });
    expect(day8.outputExpiredJobs).toBeGreaterThanOrEqual(1); // this job, and any other of this file ended on the defaults
    const after = await client.job(job.id);
    expect(after).toMatchObject({ status: 'succeeded', outputExpired: true, exitCode: 0, outputBytes: before.outputBytes });
    expect(await rowsOf(job.id)).toMatchObject({ jobs: 1, output: 0 });
    const logs = await client.request('GET', `/v1/jobs/${job.id}/logs`);
    expect([logs.status, logs.body.error.code]).toEqual([410, 'output_expired']);
    expect(logs.body.error.message).toMatch(new RegExp(`^job "${job.id}": its output was deleted by retention`));
    const ndjson = await client.request('GET', `/v1/jobs/${job.id}/logs?format=ndjson&attempt=1`);
    expect(ndjson.status).toBe(410);

    const stream = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${job.id}/stream`, { token: system.token });
    if (stream.kind !== 'open') throw new Error(`stream refused: ${stream.status}`);
    expect((await stream.closed).code).toBe(1000);
    expect(stream.texts.map((t) => JSON.parse(t))).toEqual([
      { type: 'status', status: 'succeeded', attempt: 1, outputExpired: true },
      { type: 'end', status: 'succeeded', exitCode: 0, signal: null },
    ]);

    // Its own retainDays keeps the output as long as the job (10 days), whatever the output default.
    expect((await client.job(own.id)).outputExpired).toBe(false);
    expect((await client.logs(own.id)).toString()).toBe('kept with its job\n');

    // A second pass finds nothing more to expire; at day 31 the job itself goes.
    expect((await pass({ policy, now: later(8) })).outputExpiredJobs).toBe(0);
    await pass({ policy, now: later(31) });
    expect((await rowsOf(job.id)).jobs).toBe(0);
  }, 60_000);
  it('a pass out of budget still deletes all the output of the jobs it claimed (they are not claimed again)', async () => {
    const policy: RetentionPolicy = { jobDays: null, outputDays: 7, auditDays: null };
    const id = newId('job');
    await database.sql`
      insert into jobs (id, status, command, target, timeout_ms, finished_at)
      values (${id}, 'succeeded', 'true', '{"type":"local"}'::jsonb, 60000, now() - interval '10 days')`;
    await database.sql`insert into job_output (job_id, attempt, seq, stream, data) select ${id}, 1, s, 1, 'x' from generate_series(0, 9999) s`;
    // 100 statements of 100 rows, 5 ms apart: far past a 200 ms budget once the job is claimed.
    const claimed = await waitFor('a pass that claims the job', async () => {
      const counts = await runRetentionPass({ database, log }, { policy, budgetMs: 200, pauseMs: 5, batches: { outputRows: 100 } });
      return (await rowsOf(id)).output < 10_000 || (await client().job(id)).outputExpired ? counts : undefined;
    }, 60_000, 50);
    expect(claimed.largest.outputRows).toBeLessThanOrEqual(100);
    expect(await rowsOf(id)).toMatchObject({ jobs: 1, output: 0 });
    expect((await client().job(id)).outputExpired).toBe(true);
  }, 90_000);
});

describe('runs, schedule fires and the audit', () => {
  it('a run goes once its children are gone, and not while one remains', async () => {
    const insertRun = async (childStatuses: string[]) => {
      const runId = newId('run');
      await database.sql`
        insert into runs (id, status, command, timeout_ms, targets, strategy, total, finished_at)
        values (${runId}, 'succeeded', 'true', 60000, '{}'::jsonb, '{}'::jsonb, ${childStatuses.length}, clock_timestamp())`;
      for (const [i, status] of childStatuses.entries()) {
        await database.sql`
          insert into jobs (id, status, command, target, timeout_ms, run_id, run_index, finished_at)
          values (${newId('job')}, ${status}, 'true', '{"type":"local"}'::jsonb, 60000, ${runId}, ${i}, ${status === 'running' ? null : new Date().toISOString()}::timestamptz)`;
      }
      return runId;
    };
    const done = await insertRun(['succeeded', 'failed', 'skipped']);
    const held = await insertRun(['succeeded', 'running']); // a child that never ends (as far as retention knows)
    const counts = await pass({ policy: DEFAULTS, now: later(31) });
    expect(counts.runs).toBe(1);
    const left = await database.sql<{ id: string }[]>`select id from runs where id in (${done}, ${held})`;
    expect(left.map((r) => r.id)).toEqual([held]);
    expect((await database.sql`select 1 from jobs where run_id = ${done}`).length).toBe(0);
    expect((await database.sql`select status from jobs where run_id = ${held}`).map((r) => r.status)).toEqual(['running']);
    await database.sql`delete from jobs where run_id = ${held}`; // not left for the other cases
  }, 60_000);

  it("never takes an ended child of a run still going (its counts are the run's error budget), nor its output; it goes once the run ends", async () => {
    const runId = newId('run');
    await database.sql`
      insert into runs (id, status, command, timeout_ms, targets, strategy, total)
      values (${runId}, 'running', 'true', 60000, '{}'::jsonb, '{}'::jsonb, 2)`;
    const failed = newId('job');
    await database.sql`
      insert into jobs (id, status, command, target, timeout_ms, run_id, run_index, finished_at)
      values (${failed}, 'failed', 'true', '{"type":"local"}'::jsonb, 60000, ${runId}, 0, clock_timestamp()),
             (${newId('job')}, 'running', 'true', '{"type":"local"}'::jsonb, 60000, ${runId}, 1, null)`;
    await database.sql`insert into job_output (job_id, seq, stream, data) values (${failed}, 0, 1, ${Buffer.from('boom\n')})`;
    await pass({ policy: { jobDays: 30, outputDays: 10, auditDays: null }, now: later(31) });
    expect(await rowsOf(failed)).toMatchObject({ jobs: 1, output: 1 });
    expect((await database.sql`select output_expired_at from jobs where id = ${failed}`)[0]!.output_expired_at).toBeNull();
    await database.sql`update jobs set status = 'succeeded', finished_at = clock_timestamp() where run_id = ${runId} and status = 'running'`;
    await database.sql`update runs set status = 'failed', finished_at = clock_timestamp() where id = ${runId}`;
    await pass({ policy: DEFAULTS, now: later(31) });
    expect(await rowsOf(failed)).toMatchObject({ jobs: 0, output: 0 });
    expect((await database.sql`select 1 from runs where id = ${runId}`).length).toBe(0);
  }, 60_000);

  it('settled schedule fires past VMO_RETENTION_DAYS go; pending and unsettled ones stay', async () => {
    const scheduleId = newId('sch');
    await database.sql`insert into schedules (id, name, cron, job, paused) values (${scheduleId}, 'retention-fires', '0 3 * * *', '{"command":"true"}'::jsonb, true)`;
    await database.sql`
      insert into schedule_fires (schedule_id, kind, at, outcome, settled)
      values (${scheduleId}, 'tick', now() - interval '40 days', 'fired', true),
             (${scheduleId}, 'tick', now() - interval '39 days', 'skipped', true),
             (${scheduleId}, 'tick', now() - interval '38 days', 'fired', false),
             (${scheduleId}, 'tick', now() - interval '37 days', 'pending', false),
             (${scheduleId}, 'tick', now() - interval '2 days', 'fired', true)`;
    const counts = await pass({ policy: DEFAULTS, now: new Date() });
    expect(counts.scheduleFires).toBe(2);
    const left = await database.sql<{ outcome: string; settled: boolean }[]>`select outcome, settled from schedule_fires where schedule_id = ${scheduleId} order by at`;
    expect(left.map((r) => [r.outcome, r.settled])).toEqual([['fired', false], ['pending', false], ['fired', true]]);
  }, 30_000);

  it('audit rows past VMO_AUDIT_RETENTION_DAYS go; newer ones stay; nothing else may delete one', async () => {
    await database.sql`
      insert into audit_events (at, actor_kind, action, result, request_id)
      select now() - interval '400 days' + n * interval '1 second', 'user', 'jobs.submit', 'allowed', 'retention-old-' || n
      from generate_series(1, 25) n`;
    const recent = (await database.sql<{ n: number }[]>`select count(*)::int as n from audit_events where at > now() - interval '1 day'`)[0]!.n;
    expect(recent).toBeGreaterThan(0);
    const counts = await pass({ policy: { jobDays: null, outputDays: null, auditDays: 365 }, now: new Date(), batches: { historyRows: 10 } });
    expect(counts.auditEvents).toBe(25);
    expect(counts.statements.auditEvents).toBe(3); // 10 + 10 + 5
    expect(counts.largest.auditEvents).toBe(10);
    expect((await database.sql`select 1 from audit_events where request_id like 'retention-old-%'`).length).toBe(0);
    expect((await database.sql<{ n: number }[]>`select count(*)::int as n from audit_events where at > now() - interval '1 day'`)[0]!.n).toBeGreaterThanOrEqual(recent);
    // The append-only trigger still refuses any other delete.
    await expect(database.sql`delete from audit_events where at > now() - interval '1 day'`).rejects.toThrow();
  }, 30_000);
});

describe('bounded batches', () => {
  it('a deletion larger than a batch takes several statements, none over its bound; two passes at once delete each row once', async () => {
    // 1,200 ended jobs of 3 chunks and 4 of 2,500 chunks (512 bytes each), ended 40 days ago.
    const ids = Array.from({ length: 1_204 }, () => newId('job'));
    await database.sql`
      insert into jobs (id, status, command, target, timeout_ms, finished_at)
      select id, 'succeeded', 'true', '{"type":"local"}'::jsonb, 60000, now() - interval '40 days' + n * interval '1 millisecond'
      from unnest(${ids}::text[]) with ordinality t(id, n)`;
    await database.sql`
      insert into job_output (job_id, attempt, seq, stream, data)
      select t.id, 1, s, 1, decode(repeat('ab', 512), 'hex')
      from unnest(${ids}::text[]) with ordinality t(id, n), generate_series(0, case when n <= 4 then 2499 else 2 end) s`;
    const total = 4 * 2_500 + 1_200 * 3;
    const batches = { jobs: 500, outputRows: 1_000 };
    const [a, b] = await Promise.all([runRetentionPass({ database, log }, { policy: DEFAULTS, batches }), runRetentionPass({ database, log }, { policy: DEFAULTS, batches })]);
    const rest = a.skipped && b.skipped ? await pass({ policy: DEFAULTS, batches }) : undefined;
    const all = [a, b, ...(rest ? [rest] : [])];
    expect(all.reduce((n, c) => n + c.jobs, 0)).toBe(1_204);
    expect(all.reduce((n, c) => n + c.outputRows, 0)).toBe(total);
    for (const c of all.filter((c) => !c.skipped)) {
      expect(c.largest.jobs).toBeLessThanOrEqual(500);
      expect(c.largest.outputRows).toBeLessThanOrEqual(1_000);
    }
    const worked = all.find((c) => c.jobs > 0)!;
    expect(worked.statements.jobs).toBeGreaterThanOrEqual(3); // 500 + 500 + 204
    expect(worked.statements.outputRows).toBeGreaterThanOrEqual(Math.ceil(total / 1_000));
    expect((await database.sql`select 1 from jobs where id = any(${ids}::text[])`).length).toBe(0);
    expect((await database.sql`select 1 from job_output where job_id = any(${ids}::text[]) limit 1`).length).toBe(0);
  }, 120_000);

  it('a pass stopped by its signal says there is more, and the next finishes', async () => {
    const ids = Array.from({ length: 30 }, () => newId('job'));
    await database.sql`
      insert into jobs (id, status, command, target, timeout_ms, finished_at)
      select id, 'failed', 'true', '{"type":"local"}'::jsonb, 60000, now() - interval '40 days' from unnest(${ids}::text[]) id`;
    const stopped = new AbortController();
    stopped.abort();
    const first = await pass({ policy: DEFAULTS, signal: stopped.signal });
    expect([first.more, first.jobs]).toEqual([true, 0]);
    const second = await pass({ policy: DEFAULTS, batches: { jobs: 10 } });
    expect([second.more, second.jobs, second.statements.jobs]).toEqual([false, 30, 3]);
  }, 30_000);

  it('the status lists of the partial indexes are the terminal statuses', () => {
    expect([...ENDED_JOB_STATUSES].sort()).toEqual([...TERMINAL_STATUSES].sort());
    expect([...ENDED_RUN_STATUSES].sort()).toEqual([...TERMINAL_RUN_STATUSES].sort());
  });
});

describe('bad input', () => {
  it.each<[string, unknown, RegExp]>([
    ['retainDays', 0, /^retainDays: must be at least 1/],
    ['retainDays', 3651, /^retainDays: must be at most 3650/],
    ['retainDays', 1.5, /^retainDays: must be a whole number of days/],
    ['retainDays', '30', /^retainDays: must be a whole number of days from 1 to 3650/],
    ['retainDays', null, /^retainDays: /],
  ])('%s = %j on a job, a run and a schedule: 400 naming it', async (_field, retainDays, message) => {
    const { client } = system;
    for (const [path, body, field] of [
      ['/v1/jobs', { command: 'true', retainDays }, 'retainDays'],
      ['/v1/runs', { command: 'true', targets: { agents: ['nobody'] }, retainDays }, 'retainDays'],
      ['/v1/schedules', { name: 'bad-retain', cron: '0 3 * * *', job: { command: 'true', retainDays } }, 'job.retainDays'],
    ] as const) {
      const res = await client.request('POST', path, body);
      expect(res.status, `${path} ${JSON.stringify(retainDays)}`).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.message.replace(/^job\./, '')).toMatch(message);
      expect(res.body.error.details.field).toBe(field);
    }
  });

  it('a worker refuses to start with output kept longer than jobs: one line naming the variable, exit 78', async () => {
    const proc = new ServiceProcess('worker', { ...system.env, VMO_RETENTION_DAYS: '14', VMO_OUTPUT_RETENTION_DAYS: '30' });
    const exit = await proc.exited;
    expect(exit.code).toBe(78);
    expect(proc.output).toMatch(/^vmo: invalid configuration: VMO_OUTPUT_RETENTION_DAYS: must be at most VMO_RETENTION_DAYS \(14\): output is deleted with its job/m);
    await proc.stop();
  }, 60_000);
});

describe("the worker's loop", () => {
  it('deletes what is due on its own, without anyone asking', async () => {
    const job = await finishedJob({ command: 'echo old' });
    // Ended two days ago, as far as retention can tell (its finish moved back: the loop reads the real clock).
    await database.sql`update jobs set finished_at = finished_at - interval '2 days' where id = ${job.id}`;
    const worker = await system.startWorker({ VMO_RETENTION_DAYS: '1', VMO_AUDIT_RETENTION_DAYS: '0', VMO_RETENTION_EVERY_MS: '200' });
    await waitFor('the loop to delete the job', async () => ((await rowsOf(job.id)).jobs === 0 ? true : undefined), 60_000, 100);
    expect(await rowsOf(job.id)).toEqual({ jobs: 0, output: 0, attempts: 0, secrets: 0 });
    await worker.stop();
  }, 120_000);
});
