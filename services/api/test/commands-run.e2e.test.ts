/**
 * Issue 15, Saved commands, "Must hold": running a saved command on the real stack (API and worker
 * processes, real agents, Postgres, Redis). Parameter values reach the script ONLY as
 * VMO_PARAM_<NAME>: injection attempts through every parameter type are inert (the file they try
 * to create never exists, and the script sees the exact bytes); a job (and every child of a run)
 * records the command's name and version; each refused value is a 400 naming the parameter with
 * nothing created; a secret parameter is masked in the output and in no answer; a selector
 * default makes a fleet run; running is judged by the policies as POST /v1/jobs and /v1/runs.
 */
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandRun } from '@vmo/shared/api';
import { registerSecret, TestSystem, waitFor, type ApiClient, type ApiResponse } from '@vmo/testkit';

const KEY = '5e0a9c1f7b3d42e8a6c4f2b0d8e6a4c2917f5d3b1a9e7c5f3d1b9a7e5c3f1d2b';
const SECRET = 'cmdSecret-Zq7Wx2-Pl9Kv4-token';

describe('running saved commands (real API + worker + agents)', () => {
  let system: TestSystem;
  let sql: postgres.Sql;
  let admin: ApiClient;
  /** Operator: run and cancel on team=a, read on team=b. */
  let olga: ApiClient;
  let vera: ApiClient;
  let dir: string;
  /** What every injection attempt tries to create. */
  let pwned: string;

  const count = async (table: 'jobs' | 'runs') => Number((await sql.unsafe(`select count(*)::int as n from ${table}`))[0]!.n);
  const token = async (user: string) => {
    const res = await admin.request('POST', '/v1/tokens', { name: `${user}'s token`, user });
    expect(res.status, res.text).toBe(201);
    return res.body.token as string;
  };
  const create = async (body: Record<string, unknown>) => {
    const res = await admin.request('POST', '/v1/commands', body);
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  /** POST …/run, its 201 checked against the contract. */
  const run = async (name: string, body: Record<string, unknown>, client: ApiClient = admin): Promise<ApiResponse> => {
    const res = await client.request('POST', `/v1/commands/${name}/run`, body);
    if (res.status === 201) {
      const parsed = CommandRun.safeParse(res.body);
      expect(parsed.success, `${parsed.error?.message} in ${res.text}`).toBe(true);
    }
    return res;
  };
  const waitForRun = (id: string) =>
    waitFor(`run ${id} to end`, async () => {
      const res = await admin.request('GET', `/v1/runs/${id}`);
      return ['succeeded', 'failed', 'canceled'].includes(res.body.status) ? res.body : undefined;
    }, 90_000, 100);

  beforeAll(async () => {
    registerSecret('a secret parameter of a saved command', SECRET);
    registerSecret('VMO_SECRET_KEY of the saved commands test', KEY);
    dir = await mkdtemp(join(tmpdir(), 'vmo-commands-'));
    await chmod(dir, 0o777); // the agent and the worker write here, whoever they run as
    pwned = join(dir, 'pwned');
    system = await TestSystem.start({ label: 'commands_run', env: { VMO_SECRET_KEY: KEY } });
    admin = system.client;
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    await Promise.all([system.startAgent('a-1', { labels: { team: 'a', role: 'web' } }), system.startAgent('b-1', { labels: { team: 'b', role: 'web' } })]);
    for (const [name, role] of [['olga', 'operator'], ['vera', 'viewer']]) expect((await admin.request('POST', '/v1/users', { name, role })).status).toBe(201);
    olga = system.clientFor(0, await token('olga'));
    vera = system.clientFor(0, await token('vera'));
    expect((await admin.request('POST', '/v1/policies', { name: 'olga-a', subjects: { users: ['olga'] }, actions: ['run', 'cancel'], targets: 'team=a' })).status).toBe(201);
    expect((await admin.request('POST', '/v1/policies', { name: 'olga-reads-b', subjects: { users: ['olga'] }, actions: ['read'], targets: 'team=b' })).status).toBe(201);
  }, 180_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('injection through every parameter type is inert', () => {
    /** Each tries to run `touch <pwned>` if a value were ever pasted into the shell text. */
    const hostile = () => [
      `'; touch ${pwned}; '`,
      `"; touch ${pwned}; "`,
      `$(touch ${pwned})`,
      `\`touch ${pwned}\``,
      `x\ntouch ${pwned}\n`,
      `; touch ${pwned}`,
      `| touch ${pwned}`,
      `&& touch ${pwned} #`,
      `\\'"\`$(touch ${pwned})\``,
      `\${IFS}$(touch\${IFS}${pwned})`,
      `-e touch ${pwned} * ?`,
      `x\r\ntouch ${pwned}\r\n`,
    ];

    beforeAll(async () => {
      // The enum's allowed values are hostile too: whatever a command's author allows, it is data.
      await create({
        name: 'inject',
        script: [
          `printf '%s' "\${VMO_PARAM_S-}" > ${dir}/s-$VMO_PARAM_C`,
          `printf '%s' "\${VMO_PARAM_E-}" > ${dir}/e-$VMO_PARAM_C`,
          `printf '%s|%s' "\${VMO_PARAM_N-}" "\${VMO_PARAM_B-}" > ${dir}/nb-$VMO_PARAM_C`,
        ].join('\n'),
        params: [
          { name: 'c', type: 'int', required: true, min: 0, max: 1000 },
          { name: 's', type: 'string' },
          { name: 'e', type: 'enum', values: hostile() },
          { name: 'n', type: 'int', default: 7 },
          { name: 'b', type: 'bool', default: false },
        ],
      });
    });

    it.each([
      ['local', { type: 'local' }, 0],
      ['agent', { type: 'agent', agent: 'a-1' }, 100],
    ])('through string and enum values on a %s target: the script sees the exact bytes, nothing else runs', async (_kind, target, base) => {
      const values = hostile();
      const jobs: string[] = [];
      for (const [i, value] of values.entries()) {
        const res = await run('inject', { target, params: { c: base + i, s: value, e: value, n: '42', b: 'true' } });
        expect(res.status, res.text).toBe(201);
        // The job's command is the stored script, byte for byte: no value in it.
        expect(res.body.job.command).not.toContain(pwned);
        expect(res.body.job.env).toMatchObject({ VMO_PARAM_S: value, VMO_PARAM_E: value, VMO_PARAM_N: '42', VMO_PARAM_B: 'true' });
        jobs.push(res.body.job.id);
      }
      for (const id of jobs) expect((await admin.waitForEnd(id)).status, (await admin.logs(id)).toString()).toBe('succeeded');
      for (const [i, value] of values.entries()) {
        expect(await readFile(join(dir, `s-${base + i}`), 'utf8')).toBe(value);
        expect(await readFile(join(dir, `e-${base + i}`), 'utf8')).toBe(value);
        expect(await readFile(join(dir, `nb-${base + i}`), 'utf8')).toBe('42|true');
      }
      await expect(stat(pwned)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('through int and bool values: refused before any job exists (400 invalid_param naming it), nothing runs', async () => {
      const before = await count('jobs');
      for (const value of hostile()) {
        for (const param of ['n', 'b', 'c']) {
          const res = await run('inject', { target: { type: 'local' }, params: { c: 999, [param]: value } });
          expect([res.status, res.body.error?.code, res.body.error?.details?.param], res.text).toEqual([400, 'invalid_param', param]);
          expect(res.text).not.toContain(pwned); // the value is never echoed
        }
      }
      // An enum value not among the declared ones (the hostile text with a twist) is refused too.
      const notListed = await run('inject', { target: { type: 'local' }, params: { c: 999, e: `${hostile()[0]} ` } });
      expect([notListed.status, notListed.body.error?.details?.param]).toEqual([400, 'e']);
      expect(await count('jobs')).toBe(before);
      await expect(stat(pwned)).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });

  it('a job records the command name and version it ran; an older version runs its own script', async () => {
    await create({ name: 'versioned', script: 'echo "v1 $VMO_PARAM_WHO"', params: [{ name: 'who', type: 'string', default: 'world' }], defaultTarget: { type: 'agent', agent: 'a-1' }, labels: { from: 'cmd' } });
    const v2 = await admin.request('PUT', '/v1/commands/versioned', { script: 'echo "v2 $VMO_PARAM_WHO"', params: [{ name: 'who', type: 'string', default: 'there' }], defaultTarget: { type: 'agent', agent: 'a-1' } });
    expect(v2.body.version).toBe(2);
    const latest = await run('versioned', { labels: { extra: 'yes' } });
    expect(latest.status, latest.text).toBe(201);
    expect(latest.headers.get('location')).toBe(`/v1/jobs/${latest.body.job.id}`);
    expect(latest.body).toMatchObject({ kind: 'job', command: { name: 'versioned', version: 2 }, job: { savedCommand: { name: 'versioned', version: 2 }, target: { type: 'agent', agent: 'a-1' }, labels: { extra: 'yes' } } });
    const first = await run('versioned', { version: 1, params: { who: 'you' } });
    expect(first.body).toMatchObject({ command: { name: 'versioned', version: 1 }, job: { savedCommand: { name: 'versioned', version: 1 }, labels: { from: 'cmd' } } });
    for (const [res, text] of [[latest, 'v2 there\n'], [first, 'v1 you\n']] as const) {
      const job = await admin.waitForEnd(res.body.job.id);
      expect(job).toMatchObject({ status: 'succeeded', savedCommand: res.body.command });
      expect((await admin.logs(job.id)).toString()).toBe(text);
    }
    const rows = await sql`select command_name, command_version from jobs where id = ${latest.body.job.id}`;
    expect(rows[0]).toEqual({ command_name: 'versioned', command_version: 2 });
    // A job submitted directly names no command.
    expect((await admin.submit({ command: 'true' })).savedCommand).toBeNull();
  });

  it('each refused value is a 400 naming the parameter, and nothing is created', async () => {
    await create({
      name: 'typed',
      script: 'true',
      defaultTarget: { type: 'local' },
      params: [
        { name: 'host', type: 'string', required: true, pattern: '[a-z][a-z0-9-]*' },
        { name: 'count', type: 'int', min: 1, max: 5 },
        { name: 'force', type: 'bool' },
        { name: 'mode', type: 'enum', values: ['fast', 'safe'] },
        { name: 'token', type: 'string', secret: true },
      ],
    });
    const before = [await count('jobs'), await count('runs')];
    for (const [params, param, words] of [
      [{ host: 'web', nope: 1 }, 'nope', 'declares no parameter'],
      [{}, 'host', 'is required'],
      [{ host: 42 }, 'host', 'must be a string'],
      [{ host: 'Web-1' }, 'host', 'does not match the pattern'],
      [{ host: 'web 1' }, 'host', 'does not match the pattern'],
      [{ host: 'x'.repeat(4097) }, 'host', 'at most 4096 bytes'],
      [{ host: 'web', count: 2.5 }, 'count', 'whole number'],
      [{ host: 'web', count: '1e3' }, 'count', 'whole number'],
      [{ host: 'web', count: 0 }, 'count', 'at least 1'],
      [{ host: 'web', count: 6 }, 'count', 'at most 5'],
      [{ host: 'web', force: 'yes' }, 'force', 'true or false'],
      [{ host: 'web', force: 1 }, 'force', 'true or false'],
      [{ host: 'web', mode: 'reckless' }, 'mode', 'one of fast, safe'],
      [{ host: 'web', token: 'abc' }, 'token', 'at least 4 bytes'],
    ] as const) {
      const res = await run('typed', { params });
      expect([res.status, res.body.error?.code, res.body.error?.details], res.text).toEqual([400, 'invalid_param', { field: `params.${param}`, param }]);
      expect(res.body.error.message).toMatch(new RegExp(`^params\\.${param}: .*${words}`));
    }
    // The body's own shape: a value of no type, both target and targets, fleet options on one target, no target at all.
    for (const [body, field] of [
      [{ params: { host: { a: 1 } } }, 'params.host'],
      [{ target: { type: 'local' }, targets: { selector: 'a=b' } }, 'targets'],
      [{ params: { host: 'web' }, strategy: { maxConcurrency: 1 } }, 'strategy'],
      [{ params: { host: 'web' }, targets: { selector: 'env in (' } }, 'targets.selector'],
      [{ version: 0 }, 'version'],
    ] as const) {
      const res = await run('typed', body);
      expect([res.status, res.body.error?.code, res.body.error?.details?.field], res.text).toEqual([400, 'validation_failed', field]);
    }
    await create({ name: 'nowhere', script: 'true' });
    const noTarget = await run('nowhere', {});
    expect([noTarget.status, noTarget.body.error?.details?.field]).toEqual([400, 'target']);
    expect([await count('jobs'), await count('runs')]).toEqual(before);
  });

  it('a secret parameter reaches the script, is *** in the output, and is in no answer, row or audit detail', async () => {
    await create({
      name: 'deploy',
      script: `printf 'token=%s\\n' "$VMO_PARAM_TOKEN"; printf '%s' "$VMO_PARAM_TOKEN" | wc -c; printf 'env=%s\\n' "$VMO_PARAM_ENV"`,
      params: [
        { name: 'token', type: 'string', secret: true, required: true },
        { name: 'env', type: 'enum', values: ['staging', 'prod'], default: 'staging' },
      ],
    });
    for (const target of [{ type: 'local' }, { type: 'agent', agent: 'a-1' }]) {
      const res = await run('deploy', { target, params: { token: SECRET } });
      expect(res.status, res.text).toBe(201);
      expect(res.text).not.toContain(SECRET);
      expect(res.body.job).toMatchObject({ secretEnvNames: ['VMO_PARAM_TOKEN'], env: { VMO_PARAM_ENV: 'staging' } });
      expect(res.body.job.env).not.toHaveProperty('VMO_PARAM_TOKEN');
      const job = await admin.waitForEnd(res.body.job.id);
      expect(job.status).toBe('succeeded');
      expect((await admin.logs(job.id)).toString()).toBe(`token=***\n${SECRET.length}\nenv=staging\n`);
      expect(JSON.stringify(await admin.job(job.id))).not.toContain(SECRET);
      // Sealed while it ran, gone once it ended.
      await waitFor('the sealed secret dropped', async () => ((await sql`select 1 from job_secrets where job_id = ${job.id}`).length === 0 ? true : undefined), 30_000);
    }
    const audit = await sql`select coalesce(string_agg(detail::text, ' '), '') as text from audit_events`;
    expect(audit[0]!.text).not.toContain(SECRET);
    const versions = await sql`select coalesce(string_agg(params::text, ' '), '') as text from command_versions`;
    expect(versions[0]!.text).not.toContain(SECRET);
  });

  it('a selector default makes a fleet run on every machine it matches; each child records the command; targets or target override it', async () => {
    await create({ name: 'web-hello', script: 'echo "hello $VMO_PARAM_WHO"', params: [{ name: 'who', type: 'string', default: 'fleet' }], defaultTarget: { selector: 'role=web' }, timeoutMs: 60_000 });
    const res = await run('web-hello', { params: { who: 'web' }, strategy: { maxConcurrency: 1 } });
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/runs/${res.body.run.id}`);
    expect(res.body).toMatchObject({ kind: 'run', command: { name: 'web-hello', version: 1 }, run: { total: 2, savedCommand: { name: 'web-hello', version: 1 }, targets: { selector: 'role=web' }, timeoutMs: 60_000, env: { VMO_PARAM_WHO: 'web' } } });
    expect((await waitForRun(res.body.run.id)).status).toBe('succeeded');
    const children = (await admin.request('GET', `/v1/runs/${res.body.run.id}/jobs`)).body.items as { id: string; target: { name: string } }[];
    expect(children.map((c) => c.target.name).sort()).toEqual(['a-1', 'b-1']);
    for (const child of children) {
      expect((await admin.job(child.id)).savedCommand).toEqual({ name: 'web-hello', version: 1 });
      expect((await admin.logs(child.id)).toString()).toBe('hello web\n');
    }
    expect((await sql`select command_name, command_version from runs where id = ${res.body.run.id}`)[0]).toEqual({ command_name: 'web-hello', command_version: 1 });

    const narrowed = await run('web-hello', { targets: { selector: 'team=a' } });
    expect(narrowed.body).toMatchObject({ kind: 'run', run: { total: 1 } });
    const one = await run('web-hello', { target: { type: 'agent', agent: 'b-1' } });
    expect(one.body).toMatchObject({ kind: 'job', job: { target: { type: 'agent', agent: 'b-1' } } });
    expect((await waitForRun(narrowed.body.run.id)).status).toBe('succeeded');
    expect((await admin.waitForEnd(one.body.job.id)).status).toBe('succeeded');
    const none = await run('web-hello', { targets: { selector: 'role=nothing' } });
    expect([none.status, none.body.error?.code]).toEqual([422, 'no_targets']);
  });

  describe('access: running is a submission, judged as POST /v1/jobs and /v1/runs', () => {
    beforeAll(async () => {
      await create({ name: 'on-web', script: 'true', defaultTarget: { selector: 'role=web' } });
      await create({ name: 'on-local', script: 'true', defaultTarget: { type: 'local' } });
    });

    it('a viewer may not run (403 naming jobs:run); nothing created', async () => {
      const before = [await count('jobs'), await count('runs')];
      const res = await run('on-web', {}, vera);
      expect([res.status, res.body.error.code, res.body.error.details?.scope]).toEqual([403, 'forbidden', 'jobs:run']);
      expect([await count('jobs'), await count('runs')]).toEqual(before);
    });

    it('an operator of team=a runs it on team a, and not on team b: 403 target_forbidden naming it, nothing created', async () => {
      const ok = await run('on-web', { targets: { selector: 'team=a' } }, olga);
      expect(ok.status, ok.text).toBe(201);
      expect(ok.body.run).toMatchObject({ total: 1, createdBy: 'olga' });
      const job = await run('on-web', { target: { type: 'agent', agent: 'a-1' } }, olga);
      expect(job.status, job.text).toBe(201);
      await waitForRun(ok.body.run.id);
      await admin.waitForEnd(job.body.job.id);

      const before = [await count('jobs'), await count('runs')];
      for (const [name, body, named] of [
        ['on-web', {}, 'b-1'], // the default selector takes in b-1
        ['on-web', { targets: { selector: 'team=b' } }, 'b-1'],
        ['on-web', { target: { type: 'agent', agent: 'b-1' } }, 'b-1'],
        ['on-local', {}, 'local'],
      ] as const) {
        const res = await run(name, body, olga);
        expect([res.status, res.body.error?.code], res.text).toEqual([403, 'target_forbidden']);
        expect(res.body.error.details.targets).toEqual([named]);
      }
      expect([await count('jobs'), await count('runs')]).toEqual(before);
      const denied = await sql`select count(*)::int as n from audit_events where actor_name = 'olga' and action = 'commands.run' and result = 'denied'`;
      expect(denied[0]!.n).toBe(4);
    });

    it('a default target naming a machine the caller may not read answers as one that does not exist, naming neither; nothing created', async () => {
      expect((await admin.request('POST', '/v1/users', { name: 'nick', role: 'operator' })).status).toBe(201);
      expect((await admin.request('POST', '/v1/policies', { name: 'nick-a', subjects: { users: ['nick'] }, actions: ['run'], targets: 'team=a' })).status).toBe(201);
      const nick = system.clientFor(0, await token('nick'));
      await create({ name: 'on-b-1', script: 'true', defaultTarget: { type: 'agent', agent: 'b-1' } });
      await create({ name: 'on-b-list', script: 'true', defaultTarget: { agents: ['a-1', 'b-1'] } });
      await create({ name: 'on-nowhere', script: 'true', defaultTarget: { type: 'agent', agent: 'nowhere-1' } });
      await create({ name: 'on-nowhere-list', script: 'true', defaultTarget: { agents: ['a-1', 'nowhere-1'] } });
      const before = [await count('jobs'), await count('runs')];
      const answers = [];
      for (const name of ['on-b-1', 'on-b-list', 'on-nowhere', 'on-nowhere-list']) {
        const res = await run(name, {}, nick);
        expect([res.status, res.body.error?.code], res.text).toEqual([422, 'unknown_agent']);
        expect(res.text).not.toContain('b-1');
        expect(res.text).not.toContain('nowhere-1');
        answers.push(JSON.stringify(res.body.error));
      }
      // Hidden and absent alike: one answer.
      expect(new Set(answers).size).toBe(1);
      expect([await count('jobs'), await count('runs')]).toEqual(before);
      // Who may read b-1 still runs the default (olga reads team b; her refusal names it, as a target she sees).
      const olgas = await run('on-b-1', {}, olga);
      expect([olgas.status, olgas.body.error?.code, olgas.body.error?.details?.targets]).toEqual([403, 'target_forbidden', ['b-1']]);
    });
  });
});
