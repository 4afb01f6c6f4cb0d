/**
 * POST /v1/runs' service function against the real Postgres and Redis (no other process): the
 * targets are resolved once (selector over agents and hosts, explicit lists, each once, sorted),
 * the run and every child land in one transaction or not at all, the first children are released
 * to the queue and the rest held, and the Idempotency-Key answers the same run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors/index.ts';
import { parseLabelSelector } from '../src/domain/label-selector.ts';
import { newId } from '../src/domain/ids.ts';
import { RunInput, submitRun } from '../src/runs/index.ts';
import { openRunTestPlane, runInput, type RunTestPlane } from './runs-fixture.ts';

let t: RunTestPlane;
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await openRunTestPlane('runs_submit');
  // Names chosen so byte order (collate "C") differs from a locale's: "B" < "Z" < "a".
  ids.a = await t.addAgent('a-web', { labels: { env: 'prod', role: 'web' } });
  ids.B = await t.addAgent('B-web', { reported: { env: 'prod', role: 'web' } });
  ids.Z = await t.addAgent('Z-db', { labels: { env: 'prod', role: 'db' } });
  // Reported says prod, the operator registered staging: the registered label wins.
  ids.staging = await t.addAgent('s-web', { labels: { env: 'staging' }, reported: { env: 'prod', role: 'web' } });
  ids.revoked = await t.addAgent('r-web', { labels: { env: 'prod', role: 'web' }, revoked: true });
  ids.h1 = await t.addHost('web-1', 'prod', { env: 'prod', role: 'web' });
  ids.h2 = await t.addHost('web-1', 'default', { env: 'dev', role: 'web' });
  ids.h3 = await t.addHost('twin', 'east', {});
  ids.h4 = await t.addHost('twin', 'west', {});
});

afterAll(async () => {
  await t?.close();
});

const counts = async () => {
  const [r] = await t.cp.database.sql<{ runs: number; jobs: number }[]>`select (select count(*) from runs)::int as runs, (select count(*) from jobs)::int as jobs`;
  return r!;
};

async function refused(work: Promise<unknown>): Promise<AppError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('targets', () => {
  it('a selector matches live agents (registered labels over reported) and inventory hosts, agents first, then by name in byte order', async () => {
    const input = runInput({ targets: { selector: 'env=prod,role=web' } });
    const { run, replayed } = await submitRun(t.cp, input, { createdBy: 'tester', maxTargets: 100 });
    expect(replayed).toBe(false);
    const children = await t.children(run.id);
    expect(children.map((c) => [c.runIndex, c.targetKind, c.targetName])).toEqual([
      [0, 'agent', 'B-web'],
      [1, 'agent', 'a-web'],
      [2, 'ssh', 'web-1@prod'],
    ]);
    expect(run).toMatchObject({ total: 3, command: 'true', createdBy: 'tester', targets: { selector: 'env=prod,role=web' } });
    // Each child is the job a single submission to that target would be.
    expect(children[0]).toMatchObject({ status: 'queued', target: { type: 'agent', agent: ids.B }, agentId: ids.B, hostId: null, runId: run.id, createdBy: 'tester', offline: null });
    expect(children[2]).toMatchObject({ target: { type: 'ssh', host: ids.h1 }, agentId: null, hostId: ids.h1 });
  });

  it('kinds narrows the selector; explicit lists add to it, by id, name or name@environment, each target once', async () => {
    const input = runInput({
      targets: { selector: 'role=web', kinds: ['ssh'], agents: [ids.Z!, 'a-web', 'a-web'], hosts: ['web-1@prod', ids.h1!, 'web-1'] },
    });
    const { run } = await submitRun(t.cp, input, { createdBy: null, maxTargets: 100 });
    const children = await t.children(run.id);
    expect(children.map((c) => c.targetName)).toEqual(['Z-db', 'a-web', 'web-1@default', 'web-1@prod']);
    expect(new Set(children.map((c) => c.id)).size).toBe(4);
  });

  it('the route may hand the selector over parsed; the stored run keeps the text as given', async () => {
    const { run } = await submitRun(t.cp, runInput({ targets: { selector: 'role = db' } }), { selector: parseLabelSelector('role=db'), createdBy: null, maxTargets: 100 });
    expect((await t.children(run.id)).map((c) => c.targetName)).toEqual(['Z-db']);
    expect(run.targets).toEqual({ selector: 'role = db' });
  });

  it.each([
    ['an unknown agent', { agents: ['a-web', 'nobody'] }, 'unknown_agent', 'targets.agents', /"nobody"/],
    ['a revoked agent', { agents: ['r-web'] }, 'unknown_agent', 'targets.agents', /"r-web"/],
    ['an unknown host', { hosts: ['web-1@prod', 'web-9'] }, 'unknown_host', 'targets.hosts', /"web-9"/],
    ['a host name in several environments', { hosts: ['twin'] }, 'ambiguous_host', 'targets.hosts', /twin.*east, west/],
    ['a selector that matches nothing', { selector: 'env=nowhere' }, 'no_targets', 'targets', /match no live agent/],
  ])('%s is a 422 naming the entry, and nothing is created', async (_what, targets, code, field, message) => {
    const before = await counts();
    const err = await refused(submitRun(t.cp, runInput({ targets }), { createdBy: null, maxTargets: 100 }));
    expect({ status: err.status, code: err.code, field: err.details?.field }).toEqual({ status: 422, code, field });
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`${field}:`)).toBe(true);
    expect(await counts()).toEqual(before);
  });

  it('more targets than the limit is 422 too_many_targets; a canary larger than the targets is 422 invalid_strategy naming the field', async () => {
    const before = await counts();
    const many = await refused(submitRun(t.cp, runInput({ targets: { selector: 'env=prod' } }), { createdBy: null, maxTargets: 2 }));
    expect({ status: many.status, code: many.code }).toEqual({ status: 422, code: 'too_many_targets' });
    const canary = await refused(submitRun(t.cp, runInput({ targets: { agents: ['a-web'] }, strategy: { canary: { count: 2 } } }), { createdBy: null, maxTargets: 100 }));
    expect({ status: canary.status, code: canary.code, field: canary.details?.field }).toEqual({ status: 422, code: 'invalid_strategy', field: 'strategy.canary.count' });
    const selector = await refused(submitRun(t.cp, runInput({ targets: { selector: 'env in (prod' } }), { createdBy: null, maxTargets: 100 }));
    expect({ status: selector.status, code: selector.code, field: selector.details?.field }).toEqual({ status: 400, code: 'validation_failed', field: 'targets.selector' });
    expect(await counts()).toEqual(before);
  });
});

describe('the run as stored', () => {
  it('keeps the strategy as given and as resolved; children carry the run fields; only maxConcurrency of them are released and enqueued', async () => {
    const input = runInput({
      command: 'echo hi',
      env: { A: '1' },
      cwd: '/tmp',
      timeoutMs: 5000,
      labels: { team: 'ops' },
      targets: { selector: 'env=prod', kinds: ['agent'], hosts: ['web-1@prod', 'web-1@default'] },
      strategy: { maxConcurrency: '50%', maxErrors: '25%' },
      offline: 'skip',
      dispatchTimeoutMs: 1234,
    });
    const { run } = await submitRun(t.cp, input, { createdBy: 'ops-user', maxTargets: 100 });
    expect(run).toMatchObject({
      status: 'queued',
      total: 5,
      strategyInput: { maxConcurrency: '50%', maxErrors: '25%' },
      strategy: { maxConcurrency: 3, maxErrors: 1, canary: null },
      offline: 'skip',
      dispatchTimeoutMs: 1234,
      labels: { team: 'ops' },
      env: { A: '1' },
      cwd: '/tmp',
      timeoutMs: 5000,
    });
    const children = await t.children(run.id);
    expect(children.map((c) => c.targetName)).toEqual(['B-web', 'Z-db', 'a-web', 'web-1@default', 'web-1@prod']);
    for (const c of children) {
      expect(c).toMatchObject({ command: 'echo hi', env: { A: '1' }, cwd: '/tmp', timeoutMs: 5000, labels: { team: 'ops' }, createdBy: 'ops-user', dispatchTimeoutMs: 1234, offline: 'skip' });
    }
    expect(children.map((c) => c.releasedAt !== null)).toEqual([true, true, true, false, false]);
    const queued = await Promise.all(children.map((c) => t.cp.queue.getJob(c.id)));
    expect(queued.map((j) => j?.data.jobId ?? null)).toEqual([children[0]!.id, children[1]!.id, children[2]!.id, null, null]);
    expect(queued[0]!.data.agentId).toBe(ids.B);
  });

  it('10,000 targets: the run and all its children in one go', async () => {
    const sql = t.cp.database.sql;
    const names = Array.from({ length: 10_000 }, (_, i) => `bulk-${String(i).padStart(5, '0')}`);
    await sql`
      insert into agents (id, name, token_hash, labels)
      select 'agt_bulk' || n, n, 'hash-' || n, '{"fleet":"bulk"}'::jsonb from unnest(${names}::text[]) as n`;
    const { run } = await submitRun(t.cp, runInput({ targets: { selector: 'fleet=bulk' }, strategy: { maxConcurrency: 10 } }), { createdBy: null, maxTargets: 10_000 });
    expect(run.total).toBe(10_000);
    const [c] = await sql<{ n: number; released: number; first: string; last: string; indexes: number }[]>`
      select count(*)::int as n, count(released_at)::int as released, min(target_name) as first, max(target_name) as last,
             count(distinct run_index)::int as indexes
      from jobs where run_id = ${run.id}`;
    expect(c).toEqual({ n: 10_000, released: 10, first: 'bulk-00000', last: 'bulk-09999', indexes: 10_000 });
    const over = await refused(submitRun(t.cp, runInput({ targets: { selector: 'fleet=bulk', agents: ['a-web'] } }), { createdBy: null, maxTargets: 10_000 }));
    expect(over.code).toBe('too_many_targets');
  }, 60_000);
});

describe('long target lists', () => {
  it('a host list longer than the default limit is judged by VMO_MAX_RUN_TARGETS (maxTargets), not by the schema; ids, name@environment and bare names resolve together', async () => {
    const sql = t.cp.database.sql;
    const N = 10_001;
    const names = Array.from({ length: N }, (_, i) => `lab-${String(i).padStart(5, '0')}`);
    const hostIds = names.map(() => newId('host'));
    await sql`
      insert into hosts (id, name, environment, host, "user")
      select h.id, h.name, 'lab', '127.0.0.1', 'nobody' from unnest(${hostIds}::text[], ${names}::text[]) as h(id, name)`;
    // A third by id, a third as name@environment, a third by bare name (the only host of that name).
    const refs = names.map((n, i) => (i % 3 === 0 ? hostIds[i]! : i % 3 === 1 ? `${n}@lab` : n));
    const input = runInput({ targets: { hosts: refs }, strategy: { maxConcurrency: 10 } });

    const before = await counts();
    const over = await refused(submitRun(t.cp, input, { createdBy: null, maxTargets: N - 1 }));
    expect({ status: over.status, code: over.code, field: over.details?.field, max: over.details?.max }).toEqual({ status: 422, code: 'too_many_targets', field: 'targets', max: N - 1 });
    expect(await counts()).toEqual(before);

    const { run } = await submitRun(t.cp, input, { createdBy: null, maxTargets: N });
    expect(run.total).toBe(N);
    const [c] = await sql<{ n: number; right: number; first: string; last: string }[]>`
      select count(*)::int as n, count(*) filter (where j.host_id = h.id and j.target_name = h.name || '@lab')::int as right,
             min(j.target_name) as first, max(j.target_name) as last
      from jobs j join hosts h on h.id = j.host_id where j.run_id = ${run.id}`;
    expect(c).toEqual({ n: N, right: N, first: 'lab-00000@lab', last: `lab-${String(N - 1).padStart(5, '0')}@lab` });

    // The schema's own bound is the most VMO_MAX_RUN_TARGETS may be set to.
    const tooLong = RunInput.safeParse({ command: 'true', targets: { hosts: Array.from({ length: 100_001 }, (_, i) => `h${i}`) } });
    expect(tooLong.success).toBe(false);
    expect(tooLong.error!.issues[0]).toMatchObject({ path: ['targets', 'hosts'] });
    expect(tooLong.error!.issues[0]!.message).toMatch(/at most 100000 entries .*VMO_MAX_RUN_TARGETS/);
  }, 60_000);
});

describe('Idempotency-Key', () => {
  it('the same body answers the same run (replayed); another body is 422; a key used for a job is never a run', async () => {
    const idempotency = { principal: 'user-1', key: 'deploy-42' };
    const input = runInput({ targets: { agents: ['a-web', 'Z-db'] } });
    const first = await submitRun(t.cp, input, { createdBy: 'user-1', idempotency, maxTargets: 100 });
    const before = await counts();
    const again = await submitRun(t.cp, runInput({ targets: { agents: ['a-web', 'Z-db'] } }), { createdBy: 'user-1', idempotency, maxTargets: 100 });
    expect(again.replayed).toBe(true);
    expect(again.run.id).toBe(first.run.id);
    expect(await counts()).toEqual(before);

    // Another principal with the same key is another request.
    const other = await submitRun(t.cp, input, { createdBy: 'user-2', idempotency: { principal: 'user-2', key: 'deploy-42' }, maxTargets: 100 });
    expect(other.run.id).not.toBe(first.run.id);

    const reused = await refused(submitRun(t.cp, runInput({ command: 'false', targets: { agents: ['a-web', 'Z-db'] } }), { createdBy: 'user-1', idempotency, maxTargets: 100 }));
    expect({ status: reused.status, code: reused.code }).toEqual({ status: 422, code: 'idempotency_key_reused' });

    await t.cp.database.sql`insert into idempotency_keys (principal, key, request_hash, job_id) values ('user-1', 'job-key', 'a job body hash', 'job_x')`;
    const jobKey = await refused(submitRun(t.cp, input, { createdBy: 'user-1', idempotency: { principal: 'user-1', key: 'job-key' }, maxTargets: 100 }));
    expect(jobKey.code).toBe('idempotency_key_reused');
  });

  it('concurrent submissions with one key make one run', async () => {
    const idempotency = { principal: 'user-3', key: 'race' };
    const input = runInput({ targets: { agents: ['a-web'] } });
    const results = await Promise.all(Array.from({ length: 5 }, () => submitRun(t.cp, input, { createdBy: 'user-3', idempotency, maxTargets: 100 })));
    expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed).length).toBe(1);
    const [n] = await t.cp.database.sql<{ n: number }[]>`select count(*)::int as n from jobs where run_id = ${results[0]!.run.id}`;
    expect(n!.n).toBe(1);
  });
});
