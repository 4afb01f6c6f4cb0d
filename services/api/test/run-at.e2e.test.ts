/**
 * Issue 14, "Run-at and priority": `runAt` on jobs and runs against the real stack (API, worker,
 * agent, Postgres, a Redis of the test's own so that it can be killed). A job with a runAt ahead
 * stays `queued` with `runAt` shown, holds no worker slot (the worker here has ONE slot and runs
 * other jobs meanwhile), runs at its time and not before, is canceled for good before it; a time
 * in the past runs now; a run's runAt holds every child; a Redis restarted empty around the due
 * time loses nothing (the wait is in Postgres: jobs/run-at/release-due-jobs.ts); bad input on the
 * new fields is a 400 naming the field, with nothing created.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { RedisServer, TestSystem, waitFor } from '@vmo/testkit';

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
/** The stored time of a runAt as the API shows it (UTC, milliseconds). */
const shown = (iso: string) => new Date(iso).toISOString();

let redis: RedisServer;
let system: TestSystem;
let sql: postgres.Sql;
/** Under /tmp with the `vmo-` prefix the leak check of the notes looks for. */
const dir = mkdtempSync(join(tmpdir(), 'vmo-run-at-'));
const marker = (name: string) => join(dir, name);

beforeAll(async () => {
  redis = await RedisServer.start();
  system = await TestSystem.start({
    label: 'run_at',
    // One worker slot: a job waiting for its runAt must leave it free. A quick reconciler for the Redis case.
    env: { VMO_REDIS_URL: redis.url, VMO_WORKER_CONCURRENCY: '1', VMO_MAINTENANCE_MS: '500' },
  });
  sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  await sql?.end();
  await system?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('runAt on a job', () => {
  it('waits queued with runAt shown and no worker slot held, runs at its time and not before; canceled before it, it never runs; in the past, it runs now', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    // Far ahead: never due in this test. Then one canceled before its time, one that runs at it.
    const far = await client.submit({ command: `touch '${marker('far.ran')}'`, runAt: inMs(3_600_000) });
    const canceledAt = inMs(5_000);
    const toCancel = await client.submit({ command: `touch '${marker('canceled.ran')}'`, runAt: canceledAt, priority: 9 });
    // Canceled while waiting: canceled at once, without a start.
    const canceled = await client.request('POST', `/v1/jobs/${toCancel.id}/cancel`, {});
    expect(canceled.status).toBe(202);
    expect(canceled.body).toMatchObject({ status: 'canceled', startedAt: null, attempt: 0, runAt: shown(canceledAt), priority: 9 });
    const dueAt = inMs(6_000);
    const due = await client.submit({ command: 'echo on time', runAt: dueAt });
    expect(far).toMatchObject({ status: 'queued', priority: 5, queuePosition: null, startedAt: null });
    expect((await client.job(due.id))).toMatchObject({ status: 'queued', runAt: shown(dueAt) });

    // The one worker slot is free: a job without runAt runs to its end while the others wait.
    const now = await client.submit({ command: 'echo now' });
    expect((await client.waitForEnd(now.id, 60_000)).status).toBe('succeeded');
    expect((await client.job(far.id)).status).toBe('queued');

    // The due one runs at its time (never before it) and with the queue's order.
    const ran = await client.waitForEnd(due.id, 60_000);
    expect(ran.status).toBe('succeeded');
    expect(new Date(ran.startedAt!).getTime()).toBeGreaterThanOrEqual(new Date(dueAt).getTime());
    expect((await client.logs(due.id)).toString()).toBe('on time\n');
    // The canceled one was due a second before it: never released, never run.
    const [row] = await sql<{ status: string; released_at: Date | null; attempt: number }[]>`select status, released_at, attempt from jobs where id = ${toCancel.id}`;
    expect(row).toEqual({ status: 'canceled', released_at: null, attempt: 0 });
    expect(existsSync(marker('canceled.ran'))).toBe(false);

    // In the past: runs now, the time shown as given.
    const pastAt = '2001-09-09T01:46:40Z';
    const past = await client.submit({ command: 'echo late', runAt: pastAt });
    const pastEnd = await client.waitForEnd(past.id, 60_000);
    expect(pastEnd).toMatchObject({ status: 'succeeded', runAt: shown(pastAt) });

    // With an Idempotency-Key (the insert that claims the key): held the same way, and a replay is that job.
    const keyed = { command: 'true', runAt: inMs(3_600_000), priority: 2 };
    const first = await client.request('POST', '/v1/jobs', keyed, { 'Idempotency-Key': 'run-at-keyed' });
    const again = await client.request('POST', '/v1/jobs', keyed, { 'Idempotency-Key': 'run-at-keyed' });
    expect(first.status, first.text).toBe(201);
    expect(again.body).toMatchObject({ id: first.body.id, status: 'queued', runAt: shown(keyed.runAt), priority: 2 });
    const [keyedRow] = await sql<{ released_at: Date | null }[]>`select released_at from jobs where id = ${first.body.id}`;
    expect(keyedRow!.released_at).toBeNull();

    // Listed with both fields; the far ones are still waiting, and a cancel ends them for good.
    const listed = await client.request('GET', `/v1/jobs?status=queued`);
    expect(listed.body.items).toEqual([
      expect.objectContaining({ id: first.body.id, runAt: shown(keyed.runAt), priority: 2 }),
      expect.objectContaining({ id: far.id, runAt: far.runAt, priority: 5 }),
    ]);
    for (const id of [far.id, first.body.id]) expect((await client.request('POST', `/v1/jobs/${id}/cancel`, {})).body.status).toBe('canceled');
    expect(existsSync(marker('far.ran'))).toBe(false);
  }, 120_000);
});

describe('runAt on a run', () => {
  it('holds every child until the run\'s runAt (children show it and inherit the priority), then the strategy starts; a run canceled before its runAt never starts', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    await system.startAgent('ra-1', { labels: { fleet: 'run-at' } });
    const at = inMs(4_000);
    const submitted = await client.request('POST', '/v1/runs', { command: 'echo fleet', targets: { selector: 'fleet=run-at' }, runAt: at, priority: 8 });
    expect(submitted.status, submitted.text).toBe(201);
    expect(submitted.body).toMatchObject({ status: 'queued', runAt: shown(at), priority: 8 });
    const runId = submitted.body.id as string;
    const children = await client.request('GET', `/v1/jobs?run=${runId}`);
    expect(children.body.items).toEqual([expect.objectContaining({ status: 'queued', runAt: shown(at), priority: 8, queuePosition: null })]);
    const [held] = await sql<{ released_at: Date | null }[]>`select released_at from jobs where run_id = ${runId}`;
    expect(held!.released_at).toBeNull();

    // Canceled before its time: every child canceled, none started.
    const later = await client.request('POST', '/v1/runs', { command: 'echo never', targets: { selector: 'fleet=run-at' }, runAt: inMs(3_600_000) });
    expect(later.status).toBe(201);
    expect((await client.request('POST', `/v1/runs/${later.body.id}/cancel`, {})).status).toBe(202);

    const done = await waitFor('the run to end', async () => {
      const r = await client.request('GET', `/v1/runs/${runId}`);
      return ['succeeded', 'failed', 'canceled'].includes(r.body.status) ? r.body : undefined;
    }, 60_000, 100);
    expect(done.status).toBe('succeeded');
    expect(new Date(done.startedAt).getTime()).toBeGreaterThanOrEqual(new Date(at).getTime());
    const child = (await client.request('GET', `/v1/jobs?run=${runId}`)).body.items[0];
    expect(new Date(child.startedAt).getTime()).toBeGreaterThanOrEqual(new Date(at).getTime());

    const canceledRun = await waitFor('the canceled run to end', async () => {
      const r = await client.request('GET', `/v1/runs/${later.body.id}`);
      return r.body.status === 'canceled' ? r.body : undefined;
    }, 30_000, 100);
    expect(canceledRun.counts.canceled).toBe(1);
    const [never] = await sql<{ status: string; started_at: Date | null }[]>`select status, started_at from jobs where run_id = ${later.body.id}`;
    expect(never).toEqual({ status: 'canceled', started_at: null });
  }, 120_000);
});

describe('runAt across a Redis restarted empty', () => {
  it('a job due while Redis is down is released in Postgres and runs once Redis is back; one due after the restart runs too, each once', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const runs = (name: string) => `echo "$VMO_JOB_ID" >> '${marker(name)}'`;
    const duringAt = inMs(3_000);
    const during = await client.submit({ command: runs('during.runs'), runAt: duringAt });
    const after = await client.submit({ command: runs('after.runs'), runAt: inMs(9_000) });
    await redis.kill();
    // Due while Redis is gone: the release loop still lets it go in Postgres (its enqueue fails; the reconciler adds it later).
    await waitFor('the job released while Redis is down', async () => {
      const [row] = await sql<{ released_at: Date | null }[]>`select released_at from jobs where id = ${during.id}`;
      return row!.released_at !== null || undefined;
    }, 30_000, 100);
    await redis.launch(); // empty, as after a crash without persistence
    const first = await client.waitForEnd(during.id, 60_000);
    const second = await client.waitForEnd(after.id, 60_000);
    expect(first).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(second).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(new Date(first.startedAt!).getTime()).toBeGreaterThanOrEqual(new Date(duringAt).getTime());
    // Each ran exactly once.
    expect(readFileSync(marker('during.runs'), 'utf8')).toBe(`${during.id}\n`);
    expect(readFileSync(marker('after.runs'), 'utf8')).toBe(`${after.id}\n`);
  }, 120_000);
});

describe('bad input on runAt and priority', () => {
  const year = 366 * 24 * 3_600_000;
  it.each([
    ['/v1/jobs', { command: 'true', runAt: '2030-01-31T22:00:00' }, /^runAt: must be an ISO 8601 time with a UTC offset/],
    ['/v1/jobs', { command: 'true', runAt: 'soon' }, /^runAt: must be an ISO 8601 time/],
    ['/v1/jobs', { command: 'true', runAt: 1_900_000_000 }, /^runAt: must be an ISO 8601 time/],
    ['/v1/jobs', { command: 'true', runAt: '1960-01-01T00:00:00Z' }, /^runAt: must not be before 1970/],
    ['/v1/jobs', { command: 'true', runAt: 'FAR' }, /^runAt: must be at most a year ahead/],
    ['/v1/jobs', { command: 'true', priority: 0 }, /^priority: must be at least 1/],
    ['/v1/jobs', { command: 'true', priority: 11 }, /^priority: must be at most 10/],
    ['/v1/jobs', { command: 'true', priority: 5.5 }, /^priority: must be a whole number from 1 to 10/],
    ['/v1/jobs', { command: 'true', priority: 'high' }, /^priority: must be a whole number from 1 to 10/],
    ['/v1/runs', { command: 'true', targets: { selector: 'fleet=run-at' }, runAt: '2030-01-31' }, /^runAt: must be an ISO 8601 time with a UTC offset/],
    ['/v1/runs', { command: 'true', targets: { selector: 'fleet=run-at' }, runAt: 'FAR' }, /^runAt: must be at most a year ahead/],
    ['/v1/runs', { command: 'true', targets: { selector: 'fleet=run-at' }, priority: -1 }, /^priority: must be at least 1/],
    ['/v1/runs', { command: 'true', targets: { selector: 'fleet=run-at' }, priority: null }, /^priority: must be a whole number from 1 to 10/],
  ])('POST %s %j is a 400 naming the field, and creates nothing', async (path, body, message) => {
    const b = body as Record<string, unknown>;
    if (b.runAt === 'FAR') b.runAt = new Date(Date.now() + year + 60_000).toISOString();
    const count = async () => (await sql<{ n: number }[]>`select (select count(*) from jobs)::int + (select count(*) from runs)::int as n`)[0]!.n;
    const before = await count();
    const res = await system.client.request('POST', path, b);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toMatch(message);
    expect(await count()).toBe(before);
  });
});
