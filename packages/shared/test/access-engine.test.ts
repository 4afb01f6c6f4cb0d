/**
 * The authorization engine (issue 11 §Authorization) against the real Postgres: which jobs and
 * runs a caller may see and cancel, where they may run, what inventory they may read, with the
 * policies as an admin would write them. The SQL forms (postgres.js and drizzle) are checked
 * against the reference, matchesLabelSelector, on the same label sets.
 */
import { and, sql as dsql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertMayRunJob,
  assertMayRunOnTargets,
  grantsFrom,
  hostsReadableWhere,
  jobAccess,
  jobsCancelableBy,
  jobsReadableBy,
  loadGrants,
  runAccess,
  runsReadableBy,
  selectorsSql,
  agentsReadableWhere,
  agentsReadableBy,
  mayReadAgent,
  mayReadAgentId,
  mayReadMachine,
  type AccessActor,
  type Grants,
} from '../src/access/index.ts';
import { selectorsDrizzle } from '../src/access/selectors-drizzle.ts';
import { isDeniedByPolicy } from '../src/audit/policy-denial.ts';
import { agents, hosts } from '../src/db/schema/index.ts';
import { matchesLabelSelector, parseLabelSelector } from '../src/domain/label-selector.ts';
import { listJobsStatement } from '../src/jobs/queries/list-jobs.ts';
import { newId } from '../src/domain/ids.ts';
import { AppError } from '../src/errors/app-error.ts';
import { openRunTestPlane, type RunTestPlane } from './runs-fixture.ts';

let plane: RunTestPlane;
const ids: Record<string, string> = {};
const users = { alice: 'usr_alice000000000000000', bob: 'usr_bob00000000000000000', vera: 'usr_vera0000000000000000', lou: 'usr_lou00000000000000000', eve: 'usr_eve00000000000000000' };
const actor = (name: keyof typeof users, role: AccessActor['role']): AccessActor => ({ userId: users[name], role });

beforeAll(async () => {
  plane = await openRunTestPlane('access_engine');
  const sql = plane.cp.database.sql;
  ids.a1 = await plane.addAgent('a1', { labels: { team: 'a', env: 'prod' } });
  ids.a2 = await plane.addAgent('a2', { labels: { team: 'b' } });
  // Authorization sees registered labels only: a3 is team=a, whatever it says about itself …
  ids.a5 = await plane.addAgent('a5', { reported: { team: 'b' } }); // … and a5, which only SAYS team=b, is no team's.
  // The built-in agent (npm start's, on the control plane): the `local` target, never a selector's.
  ids.a6 = await plane.addAgent('local', { labels: { builtin: 'true' } });
  ids.a3 = await plane.addAgent('a3', { labels: { team: 'a' }, reported: { team: 'b', os: 'linux' } });
  ids.a4 = await plane.addAgent('a4', { labels: { team: 'a' }, revoked: true });
  ids.h1 = await plane.addHost('h1', 'default', { team: 'a' });
  ids.h2 = await plane.addHost('h2', 'prod', { team: 'b' });
  for (const [name, id] of Object.entries(users)) {
    await sql`insert into users (id, name, role) values (${id}, ${name}, ${name === 'vera' ? 'viewer' : 'operator'})`;
  }
  const policy = async (name: string, subjects: object, actions: string[], targets: string | null, local = false) =>
    sql`insert into policies (id, name, subjects, actions, targets, local)
        values (${newId('pol')}, ${name}, ${JSON.stringify(subjects)}::jsonb, ${JSON.stringify(actions)}::jsonb, ${targets}, ${local})`;
  await policy('team-a', { users: [users.alice] }, ['run', 'cancel'], 'team=a');
  await policy('viewers-b', { roles: ['viewer'] }, ['read'], 'team=b');
  // A policy for viewers that grants run: a viewer still never runs (roles are never widened).
  await policy('viewers-run-b', { roles: ['viewer'] }, ['run'], 'team=b');
  await policy('lou-local', { users: [users.lou] }, ['run'], null, true);
  await policy('eve-everything', { users: [users.eve] }, ['run'], ''); // every machine, but not `local`

  const job = async (name: string, target: object, at: { agent?: string; host?: string }, owner: string | null = null, runId: string | null = null, runIndex: number | null = null, targetName: string | null = null) => {
    ids[name] = newId('job');
    await sql`
      insert into jobs (id, status, command, target, agent_id, host_id, timeout_ms, owner_id, run_id, run_index, target_name, target_kind)
      values (${ids[name]!}, 'queued', 'true', ${JSON.stringify(target)}::jsonb, ${at.agent ?? null}, ${at.host ?? null}, 1000, ${owner}, ${runId}, ${runIndex},
              ${targetName}, ${runId ? (at.agent ? 'agent' : 'ssh') : null})`;
  };
  await job('ja1', { type: 'agent', agent: 'a1' }, { agent: ids.a1 });
  await job('ja2', { type: 'agent', agent: 'a2' }, { agent: ids.a2 });
  await job('ja3', { type: 'agent', agent: 'a3' }, { agent: ids.a3 });
  await job('ja4', { type: 'agent', agent: ids.a4! }, { agent: ids.a4 });
  await job('jh1', { type: 'ssh', host: 'h1' }, { host: ids.h1 });
  await job('jh2', { type: 'ssh', host: 'h2@prod' }, { host: ids.h2 });
  await job('jl', { type: 'local' }, {});
  await job('ja5', { type: 'agent', agent: 'a5' }, { agent: ids.a5 });
  await job('jb', { type: 'agent', agent: 'local' }, { agent: ids.a6 });
  await job('jAliceOnB', { type: 'agent', agent: 'a2' }, { agent: ids.a2 }, users.alice);

  const run = async (name: string, owner: string | null, children: [string, 'agent' | 'host'][]) => {
    ids[name] = newId('run');
    await sql`
      insert into runs (id, status, command, timeout_ms, targets, strategy, total, owner_id)
      values (${ids[name]!}, 'queued', 'true', 1000, '{}'::jsonb, '{}'::jsonb, ${children.length}, ${owner})`;
    for (const [i, [target, kind]] of children.entries()) {
      await job(`${name}.${i}`, kind === 'agent' ? { type: 'agent', agent: ids[target]! } : { type: 'ssh', host: ids[target]! }, kind === 'agent' ? { agent: ids[target] } : { host: ids[target] }, owner, ids[name]!, i, target);
    }
  };
  await run('rA', null, [['a1', 'agent'], ['h1', 'host']]);
  await run('rAB', null, [['a1', 'agent'], ['a2', 'agent'], ['h2', 'host']]);
  await run('rBob', users.bob, [['a2', 'agent']]);
}, 60_000);

afterAll(async () => {
  await plane?.close();
});

/** Agent names readable, in drizzle and in postgres.js alike (the two must agree). */
async function agentNamesReadable(g: Grants): Promise<string[]> {
  const sql = plane.cp.database.sql;
  const viaDrizzle = (await plane.cp.database.db.select({ name: agents.name }).from(agents).where(and(agentsReadableWhere(g)))).map((r) => r.name).sort();
  const viaSql = (await sql<{ name: string }[]>`select a.name from agents a where ${agentsReadableBy(sql, g)('a')}`).map((r) => r.name).sort();
  expect(viaSql).toEqual(viaDrizzle);
  return viaDrizzle;
}

async function grantsFor(a: AccessActor): Promise<Grants> {
  return loadGrants(plane.cp.database.sql, a);
}

async function visibleJobs(g: Grants, rule = jobsReadableBy): Promise<string[]> {
  const sql = plane.cp.database.sql;
  const rows = await sql<{ id: string }[]>`select j.id from jobs j where ${rule(sql, g)('j')}`;
  const byId = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]));
  return rows.map((r) => byId[r.id]!).sort();
}

async function visibleRuns(g: Grants): Promise<string[]> {
  const sql = plane.cp.database.sql;
  const rows = await sql<{ id: string }[]>`select r.id from runs r where ${runsReadableBy(sql, g)('r')}`;
  const byId = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]));
  return rows.map((r) => byId[r.id]!).sort();
}

async function forbidden(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a refusal').toBeInstanceOf(AppError);
  return err as AppError;
}

describe('grants', () => {
  it('an admin has every grant without a query; a stored selector that no longer parses grants nothing', async () => {
    // No policies table behind this Sql at all: an admin's grants must not touch it.
    const broken = new Proxy({}, { get: () => { throw new Error('queried'); } }) as never;
    expect(await loadGrants(broken, { userId: null, role: 'admin' })).toEqual({ admin: true });
    const g = grantsFrom({ userId: 'u', role: 'operator' }, [
      { targets: 'team=a,', actions: ['read'], local: false },
      { targets: 'team=a', actions: ['run'], local: false },
    ]);
    expect(g.admin).toBe(false);
    if (g.admin) return;
    expect(g.read.selectors).toEqual([parseLabelSelector('team=a')]);
  });

  it('run and cancel imply read; a viewer never gets run nor cancel, whatever a policy says', async () => {
    const vera = await grantsFor(actor('vera', 'viewer'));
    if (vera.admin) throw new Error('not an admin');
    expect(vera.run.selectors).toEqual([]);
    expect(vera.cancel.selectors).toEqual([]);
    expect(vera.read.selectors).toEqual([parseLabelSelector('team=b')]); // read and the (implied) read of the run policy, deduplicated
    const alice = await grantsFor(actor('alice', 'operator'));
    if (alice.admin) throw new Error('not an admin');
    expect(alice.read.selectors).toEqual([parseLabelSelector('team=a')]);
  });
});

describe('jobs', () => {
  it('an operator of team=a sees their own jobs and those on team=a agents and hosts (registered labels, revoked agents too), nothing else', async () => {
    const g = await grantsFor(actor('alice', 'operator'));
    expect(await visibleJobs(g)).toEqual(['jAliceOnB', 'ja1', 'ja3', 'ja4', 'jh1', 'rA.0', 'rA.1', 'rAB.0'].sort());
    expect(await visibleJobs(g, jobsCancelableBy)).toEqual(['jAliceOnB', 'ja1', 'ja3', 'ja4', 'jh1', 'rA.0', 'rA.1', 'rAB.0'].sort());
  });

  it('a viewer reads where a policy says read; an operator named by no policy sees only their own', async () => {
    expect(await visibleJobs(await grantsFor(actor('vera', 'viewer')))).toEqual(['jAliceOnB', 'ja2', 'jh2', 'rAB.1', 'rAB.2', 'rBob.0'].sort());
    expect(await visibleJobs(await grantsFor(actor('vera', 'viewer')), jobsCancelableBy)).toEqual([]);
    expect(await visibleJobs(await grantsFor(actor('bob', 'operator')))).toEqual(['rBob.0']);
  });

  it('the local target is seen only through a policy with local=true', async () => {
    expect(await visibleJobs(await grantsFor(actor('lou', 'operator')))).toEqual(['jb', 'jl']);
  });

  it('an agent is judged on its registered labels, never on what it reports; the built-in agent is `local`, never a selector\'s', async () => {
    const sql = plane.cp.database.sql;
    const vera = await grantsFor(actor('vera', 'viewer')); // reads team=b
    expect(await visibleJobs(vera)).not.toContain('ja5');
    expect(await agentNamesReadable(vera)).toEqual(['a2']);
    expect(await mayReadAgentId(sql, vera, ids.a5!)).toBe(false);
    expect(await mayReadAgentId(sql, vera, ids.a2!)).toBe(true);
    const eve = await grantsFor(actor('eve', 'operator')); // run on "" (every machine), no local
    expect(await visibleJobs(eve)).not.toContain('jb');
    expect(await visibleJobs(eve)).toContain('ja5');
    expect(await agentNamesReadable(eve)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    // The built-in agent is not hers to read (only `local` grants it): nobody to her, as in a run's agent list.
    const builtin = await forbidden(assertMayRunJob(plane.cp, eve, { type: 'agent', agent: 'local' }));
    expect([builtin.status, builtin.code, isDeniedByPolicy(builtin)]).toEqual([422, 'unknown_agent', true]);
    expect((await forbidden(assertMayRunOnTargets(sql, eve, [{ kind: 'agent', id: ids.a6!, name: 'local' }]))).details).toEqual({ action: 'run', targets: ['local'], total: 1 });
    await assertMayRunOnTargets(sql, eve, [{ kind: 'agent', id: ids.a5!, name: 'a5' }]);
    const lou = await grantsFor(actor('lou', 'operator')); // local=true
    await assertMayRunJob(plane.cp, lou, { type: 'agent', agent: 'local' });
    await assertMayRunOnTargets(sql, lou, [{ kind: 'agent', id: ids.a6!, name: 'local' }]);
    expect(await agentNamesReadable(lou)).toEqual(['local']);
    expect(mayReadAgent(lou, { builtin: 'true' })).toBe(true);
    expect(mayReadAgent(eve, { builtin: 'true' })).toBe(false);
    expect(mayReadAgent(vera, {})).toBe(false);
  });

  it('an admin sees every job', async () => {
    expect((await visibleJobs({ admin: true })).length).toBe(Object.keys(ids).filter((k) => k.startsWith('j') || k.includes('.')).length);
  });

  it('jobAccess: 404 (marked as a policy denial) for a job the caller may not see, the same 404 for no job, the target named for a 403', async () => {
    const sql = plane.cp.database.sql;
    const alice = await grantsFor(actor('alice', 'operator'));
    const hidden = await forbidden(jobAccess(sql, alice, ids.ja2!));
    expect([hidden.status, hidden.code, isDeniedByPolicy(hidden)]).toEqual([404, 'not_found', true]);
    const none = await forbidden(jobAccess(sql, alice, 'job_00000000000000000000'));
    expect([none.status, none.code, none.message, isDeniedByPolicy(none)]).toEqual([404, 'not_found', hidden.message.replace(ids.ja2!, 'job_00000000000000000000'), false]);
    const own = await jobAccess(sql, alice, ids.jh1!);
    expect(own).toMatchObject({ cancel: true, targets: ['h1@default'], total: 1 });
    expect(own.job?.id).toBe(ids.jh1); // the row comes with the check: one statement
    const vera = await grantsFor(actor('vera', 'viewer'));
    expect(await jobAccess(sql, vera, ids.jh2!)).toMatchObject({ cancel: false, targets: ['h2@prod'], total: 1 });
  });
});

describe('plans', () => {
  it("an operator's job listing walks the jobs once, the granted agents and hosts hashed once per statement, never probed per job", async () => {
    const sql = plane.cp.database.sql;
    const g = await grantsFor(actor('alice', 'operator'));
    const [plan] = await sql`explain (format json) ${listJobsStatement(sql, { limit: 50, visibleTo: jobsReadableBy(sql, g) })}`;
    const text = JSON.stringify(plan!['QUERY PLAN']);
    expect(text).toMatch(/hashed SubPlan/);
    expect(text).not.toMatch(/"Relation Name":"agents"[^}]*"Index Cond"/); // no per-row lookup of the agent
  });
});

describe('runs', () => {
  it('a run is visible to its owner and to whoever may read EVERY one of its targets', async () => {
    expect(await visibleRuns(await grantsFor(actor('alice', 'operator')))).toEqual(['rA']);
    expect(await visibleRuns(await grantsFor(actor('vera', 'viewer')))).toEqual(['rBob']);
    expect(await visibleRuns(await grantsFor(actor('bob', 'operator')))).toEqual(['rBob']);
    expect(await visibleRuns({ admin: true })).toEqual(['rA', 'rAB', 'rBob']);
  });

  it('runAccess names the children a cancel is refused on, in run order', async () => {
    const sql = plane.cp.database.sql;
    const vera = await grantsFor(actor('vera', 'viewer'));
    expect(await runAccess(sql, vera, ids.rBob!, { forCancel: true })).toEqual({ cancel: false, targets: ['a2'], total: 1 });
    const hidden = await forbidden(runAccess(sql, vera, ids.rA!));
    expect([hidden.status, isDeniedByPolicy(hidden)]).toEqual([404, true]);
    expect((await runAccess(sql, await grantsFor(actor('bob', 'operator')), ids.rBob!)).cancel).toBe(true);
  });
});

describe('running', () => {
  it('a run is refused naming the first targets it may not run on, and how many; an admin is never asked', async () => {
    const sql = plane.cp.database.sql;
    const alice = await grantsFor(actor('alice', 'operator'));
    const targets = [
      { kind: 'agent' as const, id: ids.a1!, name: 'a1' },
      { kind: 'agent' as const, id: ids.a2!, name: 'a2' },
      { kind: 'ssh' as const, id: ids.h1!, name: 'h1@default' },
      { kind: 'ssh' as const, id: ids.h2!, name: 'h2@prod' },
    ];
    const err = await forbidden(assertMayRunOnTargets(sql, alice, targets));
    expect([err.status, err.code, err.details]).toEqual([403, 'target_forbidden', { action: 'run', targets: ['a2', 'h2@prod'], total: 2 }]);
    await assertMayRunOnTargets(sql, alice, [targets[0]!, targets[2]!]);
    await assertMayRunOnTargets(sql, { admin: true }, targets);
    const vera = await grantsFor(actor('vera', 'viewer'));
    expect((await forbidden(assertMayRunOnTargets(sql, vera, [targets[1]!]))).details).toEqual({ action: 'run', targets: ['a2'], total: 1 });
  });

  it('a job: run on its agent or host by policy; local only by a local policy', async () => {
    const alice = await grantsFor(actor('alice', 'operator'));
    await assertMayRunJob(plane.cp, alice, { type: 'agent', agent: 'a3' });
    expect(await assertMayRunJob(plane.cp, alice, { type: 'ssh', host: 'h1' })).toEqual({ hostId: ids.h1 });
    // A machine she may not read is nobody to her: the 422 of one that does not exist, same words (audited as a denial).
    const hiddenAgent = await forbidden(assertMayRunJob(plane.cp, alice, { type: 'agent', agent: ids.a2! }));
    const noAgent = await forbidden(assertMayRunJob(plane.cp, alice, { type: 'agent', agent: 'nobody' }));
    expect([hiddenAgent.status, hiddenAgent.code, isDeniedByPolicy(hiddenAgent), isDeniedByPolicy(noAgent)]).toEqual([422, 'unknown_agent', true, false]);
    expect(hiddenAgent.message.replace(ids.a2!, 'nobody')).toBe(noAgent.message);
    for (const host of ['h2@prod', 'h2', ids.h2!]) {
      const hidden = await forbidden(assertMayRunJob(plane.cp, alice, { type: 'ssh', host }));
      const none = await forbidden(assertMayRunJob(plane.cp, alice, { type: 'ssh', host: 'nobody' }));
      expect([hidden.status, hidden.code, isDeniedByPolicy(hidden)], host).toEqual([422, 'unknown_host', true]);
      expect(hidden.message.replace(host, 'nobody')).toBe(none.message);
    }
    // One she may read but not run on is the 403 naming it.
    const vera = await grantsFor(actor('vera', 'viewer'));
    expect((await forbidden(assertMayRunJob(plane.cp, vera, { type: 'agent', agent: 'a2' }))).details).toEqual({ action: 'run', targets: ['a2'], total: 1 });
    expect((await forbidden(assertMayRunJob(plane.cp, vera, { type: 'ssh', host: 'h2' }))).details).toEqual({ action: 'run', targets: ['h2@prod'], total: 1 });
    expect((await forbidden(assertMayRunJob(plane.cp, alice, { type: 'local' }))).details).toEqual({ action: 'run', targets: ['local'], total: 1 });
    await assertMayRunJob(plane.cp, await grantsFor(actor('lou', 'operator')), { type: 'local' });
    await assertMayRunJob(plane.cp, { admin: true }, { type: 'local' });
  });

  it('a bare host name resolves among the hosts the caller may read; an ambiguity lists no environment they may not see', async () => {
    const x = await plane.addHost('dup', 'x', { team: 'a' });
    await plane.addHost('dup', 'y', { team: 'b' });
    await plane.addHost('dup', 'default', { team: 'b' });
    await plane.addHost('dup', 'z', { team: 'a' });
    try {
      // dup@default is hidden from alice: it neither wins (an admin gets it) nor hides dup@x and dup@z …
      const alice = await forbidden(assertMayRunJob(plane.cp, await grantsFor(actor('alice', 'operator')), { type: 'ssh', host: 'dup' }));
      expect([alice.status, alice.code]).toEqual([422, 'ambiguous_host']);
      expect(alice.message).toContain('(x, z)'); // … and her ambiguity names her environments only
      await plane.cp.database.sql`delete from hosts where name = 'dup' and environment = 'z'`;
      expect(await assertMayRunJob(plane.cp, await grantsFor(actor('alice', 'operator')), { type: 'ssh', host: 'dup' })).toEqual({ hostId: x }); // dup@x, hers
      // bob reads no host: several hidden hosts of one name are nobody, not an ambiguity.
      const bob = await forbidden(assertMayRunJob(plane.cp, await grantsFor(actor('bob', 'operator')), { type: 'ssh', host: 'dup' }));
      expect([bob.status, bob.code]).toEqual([422, 'unknown_host']);
    } finally {
      await plane.cp.database.sql`delete from hosts where name = 'dup'`; // the inventory tests count hosts
    }
  });
});

describe('inventory', () => {
  it('agents and hosts readable per policy, in drizzle as in JS', async () => {
    const { db } = plane.cp.database;
    const alice = await grantsFor(actor('alice', 'operator'));
    const agentNames = (await db.select({ name: agents.name }).from(agents).where(and(agentsReadableWhere(alice)))).map((r) => r.name).sort();
    expect(agentNames).toEqual(['a1', 'a3', 'a4']);
    const hostNames = (await db.select({ name: hosts.name }).from(hosts).where(and(hostsReadableWhere(alice)))).map((r) => r.name).sort();
    expect(hostNames).toEqual(['h1']);
    expect(mayReadMachine(alice, { team: 'a' })).toBe(true);
    expect(mayReadMachine(alice, { team: 'b' })).toBe(false);
    expect(agentsReadableWhere({ admin: true })).toBeUndefined();
  });

  it('selectors mean the same in postgres.js SQL, in drizzle SQL and in matchesLabelSelector', async () => {
    const sql = plane.cp.database.sql;
    const { db } = plane.cp.database;
    const labelSets: Record<string, string>[] = [{}, { team: 'a' }, { team: 'b', env: 'prod' }, { env: 'prod' }, { team: '' }, { 'k8s.io/zone': 'z-1', team: 'a' }];
    const selectors = ['', 'team=a', 'team!=a', 'team in (a,b)', 'team notin (a)', 'team', '!team', 'env=prod,team', 'team=', 'k8s.io/zone in (z-1,z-2),!env'];
    const rows = await sql<{ id: string; labels: Record<string, string> }[]>`
      select ('s' || i)::text as id, l as labels from jsonb_array_elements(${JSON.stringify(labelSets)}::jsonb) with ordinality as t(l, i)`;
    expect(rows.length).toBe(labelSets.length);
    for (const text of selectors) {
      for (const group of [[text], [text, 'team=b']]) {
        const parsed = group.map(parseLabelSelector);
        const expected = labelSets.map((l) => parsed.some((s) => matchesLabelSelector(s, l)));
        const viaSql = await sql<{ m: boolean }[]>`
          select ${selectorsSql(sql, sql`t.l`, parsed)} as m from jsonb_array_elements(${JSON.stringify(labelSets)}::jsonb) with ordinality as t(l, i) order by i`;
        expect(viaSql.map((r) => r.m), `${group.join(' | ')} (postgres.js)`).toEqual(expected);
        const viaDrizzle = await Promise.all(
          labelSets.map(async (l) => {
            const [row] = (await db.execute(selectorsDrizzleProbe(l, parsed))) as unknown as { m: boolean }[];
            return row!.m;
          }),
        );
        expect(viaDrizzle, `${group.join(' | ')} (drizzle)`).toEqual(expected);
      }
    }
  });
});

/** `select <selectors over a literal label set> as m`, built with the drizzle renderer. */
function selectorsDrizzleProbe(labels: Record<string, string>, parsed: ReturnType<typeof parseLabelSelector>[]) {
  return dsql`select ${selectorsDrizzle(dsql`${JSON.stringify(labels)}::jsonb`, parsed)} as m`;
}
