/**
 * Issue 10, "The run": the REST side of fleet runs on a real system (API and worker processes,
 * four real agents, Postgres, Redis). POST /v1/runs against a selector, GET /v1/runs/{id} (counts
 * of every child status, progress, strategy as given and resolved), its children in run order,
 * the summary grouped by result and identical output, cancel, the listing, GET /v1/jobs?run=, and
 * bad input: each a clear 4xx naming the field, and NOTHING created (rows counted before and
 * after). Every answer of this file is checked against its route's contract and the served
 * OpenAPI document: a status the contract does not list fails the test.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { cancelRun, getJob, getRun, listJobs, listRunJobs, listRuns, runSummary, submitRun, type ApiRoute } from '@vmo/shared/api';
import { openDatabase } from '@vmo/shared/db';
import { JOB_STATUSES } from '@vmo/shared/domain';
import { runViewStatement } from '@vmo/shared/runs';
import { processesMatching, TestSystem, uniqueSleepArg, waitFor, type ApiResponse } from '@vmo/testkit';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
const RUN_ROUTES = [submitRun, listRuns, getRun, listRunJobs, cancelRun, runSummary];
const UNKNOWN_RUN = 'run_0123456789abcdefghij';
const WEB = ['web-1', 'web-2', 'web-3', 'web-4'];

describe('the runs API (real system)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let doc: Doc;
  let scratch: string;
  /** The first run of this file (four children), for the plan test. */
  let smallRunId: string;
  const q = (s: string) => encodeURIComponent(s);

  beforeAll(async () => {
    // At most 4 targets a run: the four web agents fit, the whole prod fleet (five) does not.
    system = await TestSystem.start({ label: 'runs_api', env: { VMO_MAX_RUN_TARGETS: '4' } });
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    scratch = mkdtempSync(join(tmpdir(), 'vmo-runs-api-'));
    await Promise.all(WEB.map((name) => system.startAgent(name, { labels: { env: 'prod', role: 'web' } })));
    // Registered, never connected: offline.
    const spare = await system.client.request('POST', '/v1/agents', { name: 'spare-1', labels: { env: 'prod', role: 'spare' } });
    expect(spare.status, spare.text).toBe(201);
    const res = await system.client.request('GET', '/v1/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body as Doc;
  }, 120_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** Any request, its answer checked against `route`'s contract and the served document: the status is listed, the body fits. */
  async function call(route: ApiRoute, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
    const res = await system.client.request(route.method.toUpperCase(), path, opts.body, opts.headers);
    const documented = route.responses[res.status];
    expect(documented, `${route.method} ${route.path} answered ${res.status}, which its contract does not list: ${res.text}`).toBeDefined();
    expect(doc.paths[route.path]?.[route.method]?.responses[String(res.status)], `${route.path} ${res.status} not in the served document`).toBeDefined();
    const schema = documented!.content?.['application/json']?.schema as z.ZodType | undefined;
    if (schema) {
      const parsed = schema.safeParse(res.body);
      expect(parsed.success, `${route.method} ${route.path} ${res.status}: ${parsed.error?.message} in ${res.text}`).toBe(true);
    }
    return res;
  }

  const rowCounts = async () => {
    const [row] = await sql<{ runs: number; jobs: number; keys: number }[]>`
      select (select count(*) from runs)::int as runs, (select count(*) from jobs)::int as jobs, (select count(*) from idempotency_keys)::int as keys`;
    return row!;
  };

  const waitForRunEnd = (id: string, timeoutMs = 60_000) =>
    waitFor(`run ${id} to end`, async () => {
      const res = await call(getRun, `/v1/runs/${id}`);
      return ['succeeded', 'failed', 'canceled'].includes(res.body.status) ? res.body : undefined;
    }, timeoutMs, 100);

  const zeroCounts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0]));

  describe('a run over a selector, one child at a time', () => {
    let run: any;
    let dir: string;

    beforeAll(async () => {
      // Each child counts the children that ran before it (maxConcurrency 1: one after the other,
      // in run order): the first finds a full disk, the second prints a byte that is not UTF-8
      // and a warning, the others print `ok`.
      dir = mkdtempSync(join(scratch, 'seq-'));
      const command = `n=$(ls ${dir} | wc -l); touch ${dir}/$VMO_JOB_ID; case $n in 0) echo 'disk full'; exit 1;; 1) printf '\\377ok\\nwarn\\n';; *) echo ok;; esac`;
      const res = await call(submitRun, '/v1/runs', {
        body: { command, targets: { selector: 'env=prod,role in (web)', kinds: ['agent'] }, strategy: { maxConcurrency: 1 }, labels: { change: 'c-1' } },
      });
      expect(res.status, res.text).toBe(201);
      run = res.body;
      smallRunId = run.id;
    });

    it('answers 201 with the run, its Location, counts of every status and the strategy as given and resolved', async () => {
      const res = await call(getRun, `/v1/runs/${run.id}`);
      expect(res.status).toBe(200);
      expect(run.id).toMatch(/^run_[0-9a-z]{20}$/);
      expect(run).toMatchObject({
        command: expect.stringContaining('disk full'),
        targets: { selector: 'env=prod,role in (web)', kinds: ['agent'] },
        strategy: { given: { maxConcurrency: 1 }, resolved: { maxConcurrency: 1, maxErrors: null, canary: null } },
        offline: 'wait',
        dispatchTimeoutMs: null,
        labels: { change: 'c-1' },
        createdBy: expect.any(String),
        total: 4,
        error: null,
        progress: { total: 4 },
        finishedAt: null,
      });
      // Every status is a key, 0 included, and they add up to the total.
      expect(Object.keys(run.counts).sort()).toEqual([...JOB_STATUSES].sort());
      expect(Object.values(run.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(4);
    });

    it('ends failed (one child failed), with counts and progress that add up and its start and end times', async () => {
      const ended = await waitForRunEnd(run.id);
      expect(ended).toMatchObject({ status: 'failed', counts: { ...zeroCounts, succeeded: 3, failed: 1 }, progress: { done: 4, total: 4 }, error: null });
      expect(Date.parse(ended.startedAt)).toBeLessThanOrEqual(Date.parse(ended.finishedAt));
      expect(Date.parse(ended.createdAt)).toBeLessThanOrEqual(Date.parse(ended.startedAt));
    });

    it('lists its children in run order (by target name), with target, status, exit code and duration; filters by status; pages by cursor', async () => {
      const res = await call(listRunJobs, `/v1/runs/${run.id}/jobs`);
      expect(res.status, res.text).toBe(200);
      const items = res.body.items as any[];
      expect(items.map((c) => [c.index, c.target, c.status, c.exitCode])).toEqual([
        [0, { kind: 'agent', name: 'web-1' }, 'failed', 1],
        [1, { kind: 'agent', name: 'web-2' }, 'succeeded', 0],
        [2, { kind: 'agent', name: 'web-3' }, 'succeeded', 0],
        [3, { kind: 'agent', name: 'web-4' }, 'succeeded', 0],
      ]);
      expect(res.body.nextCursor).toBeNull();
      for (const c of items) {
        expect(c.id).toMatch(/^job_/);
        expect(c.durationMs).toBe(Date.parse(c.finishedAt) - Date.parse(c.startedAt));
      }
      // One at a time: each child started after the one before it ended.
      for (let i = 1; i < items.length; i++) expect(Date.parse(items[i].startedAt)).toBeGreaterThanOrEqual(Date.parse(items[i - 1].finishedAt));

      const failed = await call(listRunJobs, `/v1/runs/${run.id}/jobs?status=${q('failed,lost')}`);
      expect(failed.body.items.map((c: any) => c.target.name)).toEqual(['web-1']);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: ApiResponse = await call(listRunJobs, `/v1/runs/${run.id}/jobs?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status, page.text).toBe(200);
        seen.push(...page.body.items.map((c: any) => c.target.name));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(WEB);
    });

    it('summarises: groups by (status, exit code), then by identical output, largest first, with a sample and the targets', async () => {
      const res = await call(runSummary, `/v1/runs/${run.id}/summary`);
      expect(res.status, res.text).toBe(200);
      const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
      const odd = Buffer.concat([Buffer.from([0xff]), Buffer.from('ok\nwarn\n')]);
      expect(res.body).toEqual({
        runId: run.id,
        status: 'failed',
        total: 4,
        otherGroups: { groups: 0, count: 0 },
        groups: [
          {
            status: 'succeeded',
            exitCode: 0,
            count: 3,
            jobsUrl: `/v1/runs/${run.id}/jobs?status=succeeded`,
            otherOutputs: { groups: 0, count: 0 },
            outputs: [
              { hash: sha('ok\n'), bytes: 3, sample: 'ok\n', sampleBase64: Buffer.from('ok\n').toString('base64'), count: 2, targets: ['web-3', 'web-4'], jobIds: expect.any(Array) },
              // Not UTF-8: U+FFFD in the text, the exact bytes in base64.
              { hash: sha(odd), bytes: odd.length, sample: '\uFFFDok\nwarn\n', sampleBase64: odd.toString('base64'), count: 1, targets: ['web-2'], jobIds: expect.any(Array) },
            ],
          },
          { status: 'failed', exitCode: 1, count: 1, jobsUrl: `/v1/runs/${run.id}/jobs?status=failed`, otherOutputs: { groups: 0, count: 0 }, outputs: [{ hash: sha('disk full\n'), bytes: 10, sample: 'disk full\n', sampleBase64: Buffer.from('disk full\n').toString('base64'), count: 1, targets: ['web-1'], jobIds: expect.any(Array) }] },
        ],
      });
      // The job ids are the children's, in the same order as the targets.
      const children = (await call(listRunJobs, `/v1/runs/${run.id}/jobs`)).body.items as any[];
      const idOf = Object.fromEntries(children.map((c) => [c.target.name, c.id]));
      expect(res.body.groups[0].outputs[0].jobIds).toEqual([idOf['web-3'], idOf['web-4']]);
    });

    it('shows the run on each child job (runId, runIndex, target name and kind), and GET /v1/jobs?run= finds exactly them', async () => {
      const children = (await call(listRunJobs, `/v1/runs/${run.id}/jobs`)).body.items as any[];
      const job = await call(getJob, `/v1/jobs/${children[1].id}`);
      expect(job.body).toMatchObject({ runId: run.id, runIndex: 1, targetName: 'web-2', targetKind: 'agent', labels: { change: 'c-1' }, target: { type: 'agent' } });

      const found = await call(listJobs, `/v1/jobs?run=${run.id}`);
      expect(found.status, found.text).toBe(200);
      expect(found.body.items.map((j: any) => j.id).sort()).toEqual(children.map((c) => c.id).sort());
      expect((await call(listJobs, `/v1/jobs?run=${run.id}&status=failed`)).body.items.map((j: any) => j.targetName)).toEqual(['web-1']);

      // A single job is nobody's child.
      const single = await system.client.submit({ command: 'true' });
      expect(await system.client.job(single.id)).toMatchObject({ runId: null, runIndex: null, targetName: null, targetKind: null });
    });

    it('GET /v1/jobs?run= of a run that does not exist is 422 unknown_run, as an unknown agent is (not an empty page)', async () => {
      const res = await call(listJobs, `/v1/jobs?run=${UNKNOWN_RUN}`);
      expect([res.status, res.body.error.code]).toEqual([422, 'unknown_run']);
      expect(res.body.error.message).toMatch(/^run: .*run_0123456789abcdefghij/);
      const bad = await call(listJobs, '/v1/jobs?run=nope');
      expect([bad.status, bad.body.error.code, bad.body.error.details.field]).toEqual([400, 'validation_failed', 'run']);
    });

    it('refuses a cursor that is not one of this run\'s children, naming it', async () => {
      const other = await call(listRunJobs, `/v1/runs/${run.id}/jobs?cursor=job_0123456789abcdefghij`);
      expect([other.status, other.body.error.code, other.body.error.details.field]).toEqual([400, 'validation_failed', 'cursor']);
      const bad = await call(listRunJobs, `/v1/runs/${run.id}/jobs?cursor=nope`);
      expect([bad.status, bad.body.error.details.field]).toEqual([400, 'cursor']);
      const status = await call(listRunJobs, `/v1/runs/${run.id}/jobs?status=done`);
      expect([status.status, status.body.error.details.field]).toEqual([400, 'status']);
      const extra = await call(listRunJobs, `/v1/runs/${run.id}/jobs?page=2`);
      expect([extra.status, extra.body.error.message]).toEqual([400, expect.stringContaining('page')]);
    });
  });

  describe('cancel', () => {
    it('ends the running child canceled (its command killed) and the held ones canceled without running; the run ends canceled; a second cancel is 409', async () => {
      const marker = uniqueSleepArg(600);
      const res = await call(submitRun, '/v1/runs', { body: { command: `sleep ${marker}`, targets: { agents: WEB }, strategy: { maxConcurrency: 1 } } });
      expect(res.status, res.text).toBe(201);
      const id = res.body.id as string;
      await waitFor('the first child running', async () => ((await call(getRun, `/v1/runs/${id}`)).body.counts.running === 1 ? true : undefined), 30_000);
      await waitFor('its command running on the agent', async () => ((await processesMatching(`^sleep ${marker}`)).length === 1 ? true : undefined), 30_000);

      const canceled = await call(cancelRun, `/v1/runs/${id}/cancel`, { body: { graceMs: 200 } });
      expect(canceled.status, canceled.text).toBe(202);
      expect(canceled.body.cancelRequestedAt).not.toBeNull();

      const ended = await waitForRunEnd(id, 30_000);
      expect(ended).toMatchObject({ status: 'canceled', counts: { ...zeroCounts, canceled: 4 }, progress: { done: 4, total: 4 } });
      const children = (await call(listRunJobs, `/v1/runs/${id}/jobs`)).body.items as any[];
      expect(children.map((c) => [c.status, c.startedAt === null])).toEqual([
        ['canceled', false],
        ['canceled', true],
        ['canceled', true],
        ['canceled', true],
      ]);
      await waitFor('the command gone', async () => ((await processesMatching(`^sleep ${marker}`)).length === 0 ? true : undefined), 20_000);

      const again = await call(cancelRun, `/v1/runs/${id}/cancel`);
      expect([again.status, again.body.error.code]).toEqual([409, 'run_ended']);
    });

    it('404 for a run that does not exist; a bad grace is 400 naming graceMs', async () => {
      for (const path of [`/v1/runs/${UNKNOWN_RUN}/cancel`, '/v1/runs/nope/cancel']) {
        const res = await call(cancelRun, path);
        expect([res.status, res.body.error.code]).toEqual([404, 'not_found']);
      }
      const run = await call(submitRun, '/v1/runs', { body: { command: 'true', targets: { agents: ['web-1'] } } });
      const bad = await call(cancelRun, `/v1/runs/${run.body.id}/cancel`, { body: { graceMs: -1 } });
      expect([bad.status, bad.body.error.code, bad.body.error.details.field]).toEqual([400, 'validation_failed', 'graceMs']);
      await waitForRunEnd(run.body.id);
    });
  });

  it('offline "skip": a child whose agent is offline ends skipped (target_offline) and the run still succeeds', async () => {
    const res = await call(submitRun, '/v1/runs', { body: { command: 'true', targets: { selector: 'role=spare' }, offline: 'skip' } });
    expect(res.status, res.text).toBe(201);
    const ended = await waitForRunEnd(res.body.id);
    expect(ended).toMatchObject({ status: 'succeeded', offline: 'skip', counts: { ...zeroCounts, skipped: 1 } });
    const [child] = (await call(listRunJobs, `/v1/runs/${res.body.id}/jobs`)).body.items as any[];
    expect(child).toMatchObject({ target: { kind: 'agent', name: 'spare-1' }, status: 'skipped', error: { code: 'target_offline' }, startedAt: null, durationMs: null });
  });

  it('Idempotency-Key: the same body is the same run (replayed), another body is 422; one run made', async () => {
    const before = await rowCounts();
    const body = { command: 'true', targets: { agents: ['web-2'] } };
    const first = await call(submitRun, '/v1/runs', { body, headers: { 'Idempotency-Key': 'runs-api-1' } });
    const again = await call(submitRun, '/v1/runs', { body, headers: { 'Idempotency-Key': 'runs-api-1' } });
    expect([first.status, again.status, again.body.id]).toEqual([201, 201, first.body.id]);
    expect([first.headers.get('idempotent-replayed'), again.headers.get('idempotent-replayed')]).toEqual([null, 'true']);
    expect(again.headers.get('location')).toBe(`/v1/runs/${first.body.id}`);
    const other = await call(submitRun, '/v1/runs', { body: { ...body, command: 'false' }, headers: { 'Idempotency-Key': 'runs-api-1' } });
    expect([other.status, other.body.error.code]).toEqual([422, 'idempotency_key_reused']);
    expect(await rowCounts()).toEqual({ runs: before.runs + 1, jobs: before.jobs + 1, keys: before.keys + 1 });
    await waitForRunEnd(first.body.id);
  });

  describe('bad input: a clear 4xx naming the field, and nothing created', () => {
    const good = { command: 'true', targets: { selector: 'role=web' } };
    it.each<[string, unknown, number, string, string | RegExp]>([
      ['a selector that does not parse', { ...good, targets: { selector: 'role in web' } }, 400, 'validation_failed', 'targets.selector'],
      ['a selector with a bad key', { ...good, targets: { selector: '-x=1' } }, 400, 'validation_failed', 'targets.selector'],
      ['zero concurrency', { ...good, strategy: { maxConcurrency: 0 } }, 400, 'validation_failed', 'strategy.maxConcurrency'],
      ['negative concurrency', { ...good, strategy: { maxConcurrency: -2 } }, 400, 'validation_failed', 'strategy.maxConcurrency'],
      ['a fractional concurrency', { ...good, strategy: { maxConcurrency: 1.5 } }, 400, 'validation_failed', 'strategy.maxConcurrency'],
      ['"150%" concurrency', { ...good, strategy: { maxConcurrency: '150%' } }, 400, 'validation_failed', 'strategy.maxConcurrency'],
      ['"0%" concurrency', { ...good, strategy: { maxConcurrency: '0%' } }, 400, 'validation_failed', 'strategy.maxConcurrency'],
      ['"150%" errors', { ...good, strategy: { maxErrors: '150%' } }, 400, 'validation_failed', 'strategy.maxErrors'],
      ['negative errors', { ...good, strategy: { maxErrors: -1 } }, 400, 'validation_failed', 'strategy.maxErrors'],
      ['a canary without a count', { ...good, strategy: { canary: { bakeMs: 10 } } }, 400, 'validation_failed', 'strategy.canary.count'],
      ['a canary larger than the target set', { ...good, strategy: { canary: { count: 5 } } }, 422, 'invalid_strategy', 'strategy.canary.count'],
      ['an unknown strategy field', { ...good, strategy: { batch: 2 } }, 400, 'validation_failed', 'strategy'],
      ['an unknown agent in a list', { command: 'true', targets: { agents: ['web-1', 'no-such-vm'] } }, 422, 'unknown_agent', 'targets.agents'],
      ['an unknown host in a list', { command: 'true', targets: { hosts: ['no-such-host'] } }, 422, 'unknown_host', 'targets.hosts'],
      ['an empty agent list', { command: 'true', targets: { agents: [] } }, 400, 'validation_failed', 'targets.agents'],
      ['no target at all', { command: 'true', targets: {} }, 400, 'validation_failed', 'targets'],
      ['no targets field', { command: 'true' }, 400, 'validation_failed', 'targets'],
      ['an unknown kind', { ...good, targets: { selector: 'role=web', kinds: ['vm'] } }, 400, 'validation_failed', 'targets.kinds.0'],
      ['a selector matching nothing', { ...good, targets: { selector: 'role=nobody' } }, 422, 'no_targets', 'targets'],
      ['more targets than VMO_MAX_RUN_TARGETS', { ...good, targets: { selector: 'env=prod' } }, 422, 'too_many_targets', 'targets'],
      ['an unknown field', { ...good, timeout: 5 }, 400, 'validation_failed', /timeout/],
      ['an unknown targets field', { command: 'true', targets: { selector: 'role=web', host: 'x' } }, 400, 'validation_failed', 'targets'],
      ['no command', { targets: good.targets }, 400, 'validation_failed', 'command'],
      ['a bad offline policy', { ...good, offline: 'maybe' }, 400, 'validation_failed', 'offline'],
      ['a zero dispatch timeout', { ...good, dispatchTimeoutMs: 0 }, 400, 'validation_failed', 'dispatchTimeoutMs'],
      ['a bad label key', { ...good, labels: { 'a b': 'x' } }, 400, 'validation_failed', 'labels.a b'],
    ])('refuses %s', async (_what, body, status, code, field) => {
      const before = await rowCounts();
      const res = await call(submitRun, '/v1/runs', { body });
      expect([res.status, res.body.error?.code], res.text).toEqual([status, code]);
      if (typeof field === 'string') {
        expect(res.body.error.details?.field, res.text).toBe(field);
        expect(res.body.error.message.startsWith(`${field}:`), res.text).toBe(true);
      } else {
        expect(res.body.error.message).toMatch(field);
      }
      expect(await rowCounts()).toEqual(before);
    });

    it('names the position and what was expected in a selector that does not parse', async () => {
      const res = await call(submitRun, '/v1/runs', { body: { ...good, targets: { selector: 'role in web' } } });
      expect(res.body.error).toMatchObject({ details: { field: 'targets.selector', position: 8 }, message: 'targets.selector: at position 8: expected "(", found "web"' });
    });

    it('names the unknown agent itself', async () => {
      const res = await call(submitRun, '/v1/runs', { body: { command: 'true', targets: { agents: ['web-1', 'no-such-vm'] } } });
      expect(res.body.error.message).toContain('"no-such-vm"');
    });

    it('refuses a body that is not JSON, and a bad Idempotency-Key, creating nothing', async () => {
      const before = await rowCounts();
      const notJson = await call(submitRun, '/v1/runs', { body: '{"command":' });
      expect([notJson.status, notJson.body.error.code]).toEqual([400, 'invalid_json']);
      const badKey = await call(submitRun, '/v1/runs', { body: good, headers: { 'Idempotency-Key': 'x'.repeat(300) } });
      expect([badKey.status, badKey.body.error.code, badKey.body.error.details.field]).toEqual([400, 'validation_failed', 'Idempotency-Key']);
      expect(await rowCounts()).toEqual(before);
    });
  });

  describe('reading runs', () => {
    it('404 for a run that does not exist, on every route', async () => {
      for (const id of [UNKNOWN_RUN, 'nope']) {
        for (const [route, path] of [[getRun, `/v1/runs/${id}`], [listRunJobs, `/v1/runs/${id}/jobs`], [runSummary, `/v1/runs/${id}/summary`]] as const) {
          const res = await call(route, path);
          expect([res.status, res.body.error.code], path).toEqual([404, 'not_found']);
        }
      }
    });

    it('lists runs newest first, filters by status, pages by cursor, refuses a bad cursor, status or parameter', async () => {
      const all = (await call(listRuns, '/v1/runs?limit=500')).body.items as any[];
      expect(all.length).toBeGreaterThanOrEqual(5);
      const created = all.map((r) => Date.parse(r.createdAt));
      expect(created).toEqual([...created].sort((a, b) => b - a));
      expect(all[0]).not.toHaveProperty('counts'); // the listing leaves the per-status counts to GET /v1/runs/{id}

      const canceled = (await call(listRuns, '/v1/runs?status=canceled')).body.items as any[];
      expect(canceled.length).toBe(1);
      expect((await call(listRuns, `/v1/runs?status=${q('canceled,failed')}`)).body.items.map((r: any) => r.status).sort()).toEqual(
        all.filter((r) => r.status === 'canceled' || r.status === 'failed').map((r) => r.status).sort(),
      );

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: ApiResponse = await call(listRuns, `/v1/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.body.items.map((r: any) => r.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(all.map((r) => r.id));

      for (const [query, field] of [['cursor=nope', 'cursor'], ['status=done', 'status'], ['limit=0', 'limit'], ['sort=asc', 'query']] as const) {
        const res = await call(listRuns, `/v1/runs?${query}`);
        expect([res.status, res.body.error.code], query).toEqual([400, 'validation_failed']);
        if (field !== 'query') expect(res.body.error.details.field).toBe(field);
      }
      // A well-formed cursor that is no run: a 400 naming it, as a run's children answer (not an empty page that looks like the end).
      const unknown = await call(listRuns, `/v1/runs?cursor=${UNKNOWN_RUN}`);
      expect([unknown.status, unknown.body.error.code, unknown.body.error.details.field], unknown.text).toEqual([400, 'validation_failed', 'cursor']);
      expect(unknown.body.error.message).toBe(`cursor: ${UNKNOWN_RUN} is not a run; pass the nextCursor of a previous page`);
    });

    it('the served document has every runs route', () => {
      for (const route of RUN_ROUTES) expect(doc.paths[route.path]?.[route.method], `${route.method} ${route.path}`).toBeDefined();
    });
  });

  it('the typed client (@vmo/client) calls every runs route, each answer checked against its contract', async () => {
    const vmo = system.client.vmo; // validateResponses: on
    const marker = uniqueSleepArg(600);
    const run = await vmo.runs.submit({ command: `sleep ${marker}`, targets: { agents: ['web-3'] } }, { idempotencyKey: 'runs-api-client' });
    expect((await vmo.runs.submit({ command: `sleep ${marker}`, targets: { agents: ['web-3'] } }, { idempotencyKey: 'runs-api-client' })).id).toBe(run.id);
    expect(await vmo.runs.get(run.id)).toMatchObject({ id: run.id, total: 1 });
    const canceled = await vmo.runs.cancel(run.id, { graceMs: 100 });
    expect(canceled.cancelRequestedAt).not.toBeNull();
    await waitForRunEnd(run.id);
    expect((await vmo.runs.jobs(run.id, { status: ['canceled', 'failed'] })).items.map((c) => c.target)).toEqual([{ kind: 'agent', name: 'web-3' }]);
    expect((await vmo.runs.summary(run.id)).groups).toMatchObject([{ status: 'canceled', count: 1, outputs: [{ targets: ['web-3'] }] }]);
    expect((await vmo.runs.list({ status: 'canceled', limit: 500 })).items.map((r) => r.id)).toContain(run.id);
    expect((await vmo.jobs.list({ run: run.id })).items.map((j) => j.runId)).toEqual([run.id]);
    await expect(vmo.runs.cancel(run.id)).rejects.toMatchObject({ status: 409, code: 'run_ended' });
    await waitFor('the command gone', async () => ((await processesMatching(`^sleep ${marker}`)).length === 0 ? true : undefined), 20_000);
  });

  it("summary of large outputs: each child's bytes hashed once (the hash kept with the job, never re-read), equal to sha256 of its /logs", async () => {
    // 1.3 MB each, stdout only (so the three are the same bytes whatever chunks their agents cut).
    const res = await call(submitRun, '/v1/runs', { body: { command: 'seq 1 200000', targets: { agents: ['web-1', 'web-2', 'web-3'] } } });
    expect(res.status, res.text).toBe(201);
    const ended = await waitForRunEnd(res.body.id);
    expect(ended.status).toBe('succeeded');
    const expected = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `${i + 1}\n`).join(''));
    const sha = createHash('sha256').update(expected).digest('hex');

    const first = await call(runSummary, `/v1/runs/${res.body.id}/summary`);
    expect(first.status, first.text).toBe(200);
    expect(first.body.groups).toEqual([
      {
        status: 'succeeded', exitCode: 0, count: 3, jobsUrl: `/v1/runs/${res.body.id}/jobs?status=succeeded`, otherOutputs: { groups: 0, count: 0 },
        outputs: [{ hash: sha, bytes: expected.length, sample: expected.subarray(0, 1024).toString(), sampleBase64: expected.subarray(0, 1024).toString('base64'), count: 3, targets: ['web-1', 'web-2', 'web-3'], jobIds: expect.any(Array) }],
      },
    ]);
    // The hash is of the bytes GET /v1/jobs/{id}/logs answers, and it is kept with each job.
    const ids = first.body.groups[0].outputs[0].jobIds as string[];
    for (const id of ids) expect(createHash('sha256').update(await system.client.logs(id)).digest('hex')).toBe(sha);
    const stored = await sql<{ id: string; h: string }[]>`select id, encode(output_sha256, 'hex') as h from jobs where id in ${sql(ids)} order by run_index`;
    expect(stored.map((r) => r.h)).toEqual([sha, sha, sha]);

    // The next summary reads the kept hash, not the bytes: a hash put in its place (as if the bytes had changed) is what it shows.
    const marker = createHash('sha256').update('marker').digest();
    await sql`update jobs set output_sha256 = ${marker} where id = ${ids[2]!}`;
    const second = await call(runSummary, `/v1/runs/${res.body.id}/summary`);
    expect(second.body.groups[0].outputs.map((o: any) => [o.hash, o.targets])).toEqual([[sha, ['web-1', 'web-2']], [marker.toString('hex'), ['web-3']]]);
    await sql`update jobs set output_sha256 = decode(${sha}, 'hex') where id = ${ids[2]!}`;
  });

  describe('a run of 10,000 children (rows written straight into Postgres)', () => {
    const ID = `run_big${'0'.repeat(17)}`;
    const N = 10_000;

    beforeAll(async () => {
      // A finished run, so the roll-up never touches it: 1 child in 100 failed with "disk full", the rest printed "ok".
      await sql`
        insert into runs (id, status, command, timeout_ms, targets, strategy, total, created_at, started_at, finished_at)
        values (${ID}, 'failed', 'df -h', 60000, ${sql.json({ selector: 'env=big' })}, ${sql.json({ maxConcurrency: N, maxErrors: null, canary: null })}, ${N},
                now() - interval '1 day', now() - interval '1 day', now() - interval '1 day')`;
      await sql`
        insert into jobs (id, status, command, target, timeout_ms, run_id, run_index, target_name, target_kind, exit_code, output_bytes, created_at, started_at, finished_at)
        select 'job_big' || lpad(g::text, 17, '0'), case when g % 100 = 0 then 'failed' else 'succeeded' end, 'df -h', '{"type":"agent","agent":"agt_x"}'::jsonb, 60000,
               ${ID}, g, 'vm-' || lpad(g::text, 5, '0'), 'agent', case when g % 100 = 0 then 1 else 0 end, case when g % 100 = 0 then 10 else 3 end,
               now() - interval '1 day', now() - interval '1 day', now() - interval '1 day' + interval '1 second'
        from generate_series(0, ${N - 1}) g`;
      await sql`
        insert into job_output (job_id, seq, stream, data)
        select 'job_big' || lpad(g::text, 17, '0'), 0, 1, case when g % 100 = 0 then convert_to('disk full' || chr(10), 'UTF8') else convert_to('ok' || chr(10), 'UTF8') end
        from generate_series(0, ${N - 1}) g`;
    }, 60_000);

    it("reads a run's counts with one statement over jobs_run_idx, not a scan of every job", async () => {
      // A small run among many jobs (the big run's and 30,000 single jobs): its counts must come from its own children alone.
      await sql`
        insert into jobs (id, status, command, target, timeout_ms, created_at)
        select 'job_one' || lpad(g::text, 17, '0'), 'succeeded', 'true', '{"type":"local"}'::jsonb, 60000, now() - interval '2 days'
        from generate_series(1, 30000) g`;
      await sql`analyze jobs`;
      const db = openDatabase(system.databaseUrl, { max: 1 });
      try {
        const query = runViewStatement(db.db, smallRunId).toSQL();
        const [plan] = await db.sql.unsafe(`explain (format json) ${query.sql}`, query.params as never[]);
        const text = JSON.stringify(plan!['QUERY PLAN']);
        // Either of the run's indexes (jobs_run_idx, or jobs_run_status_idx which also serves the stream's idle check).
        expect(text).toMatch(/jobs_run_(status_)?idx/);
        expect(text).not.toMatch(/Seq Scan[^}]*"Relation Name":"jobs"/);
      } finally {
        await db.close();
      }
    });

    it('answers its counts in one aggregate, pages its children, and summarises 10,000 children in two groups', async () => {
      const run = await call(getRun, `/v1/runs/${ID}`);
      expect(run.body).toMatchObject({ status: 'failed', total: N, counts: { ...zeroCounts, succeeded: N - 100, failed: 100 }, progress: { done: N, total: N } });

      const page = await call(listRunJobs, `/v1/runs/${ID}/jobs?status=failed&limit=3`);
      expect(page.body.items.map((c: any) => [c.index, c.target.name, c.durationMs])).toEqual([[0, 'vm-00000', 1000], [100, 'vm-00100', 1000], [200, 'vm-00200', 1000]]);
      const next = await call(listRunJobs, `/v1/runs/${ID}/jobs?status=failed&limit=3&cursor=${page.body.nextCursor}`);
      expect(next.body.items.map((c: any) => c.index)).toEqual([300, 400, 500]);

      const summary = await call(runSummary, `/v1/runs/${ID}/summary`);
      // Every target is counted; the first 100 of each group are listed.
      expect(summary.body.groups.map((g: any) => [g.status, g.exitCode, g.count, g.outputs.map((o: any) => [o.sample, o.count, o.targets.length])])).toEqual([
        ['succeeded', 0, N - 100, [['ok\n', N - 100, 100]]],
        ['failed', 1, 100, [['disk full\n', 100, 100]]],
      ]);
      expect(summary.body.groups[1].outputs[0].targets.slice(0, 2)).toEqual(['vm-00000', 'vm-00100']);
    });
  });
});
