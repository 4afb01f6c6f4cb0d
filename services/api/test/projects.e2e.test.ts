/**
 * Issue 15 §Projects on the real stack (API and worker processes, a real agent, a real sshd,
 * Postgres, Redis, GNU make): a project's targets discovered by a job on an agent and on an SSH
 * host (includes, descriptions, specials and patterns left out), cached, refreshed; a target run
 * as a job with live output; an argument holding shell syntax refused, any other inert even where
 * the Makefile pastes it into a recipe (asserted on the filesystem);
 * an offline agent, a missing directory or Makefile, a failing makefile and a slow list command
 * each end the discovery with a clear 422 within its bound; the registry import; bad input.
 * Access by policy: projects-access.e2e.test.ts.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type ApiClient, followJob, generateKey, knownHostsLine, type Sshd, startSshd, TestSystem, writeMakeProject } from '@vmo/testkit';

/** Values that would create `pwned` in the project's directory through a recipe that pastes them: refused. */
const HOSTILE = ["'; touch pwned; '", '$(touch pwned)', '`touch pwned`', '$(shell touch pwned)', '"; touch pwned; "', 'x; touch pwned #', 'x && touch pwned', 'x | touch pwned', 'x > pwned', '\\$(touch pwned)'];
/** Values with spaces, globs, `~`, `#`, a tab: allowed, and as inert pasted into a recipe, quoted or not. */
const ALLOWED = ['1.4.2 -O2 -g', '* ? [x] ~ ~/x', 'x #y !x 50% k=v,w user@host:/p {a,b}', '\ttouch pwned', ' touch pwned'];

describe('projects: Makefile targets discovered and run (real system)', () => {
  let system: TestSystem;
  let admin: ApiClient;
  let sshd: Sshd;
  let sql: postgres.Sql;
  let root: string;
  /** A directory whose name is itself an injection attempt. */
  let hostileDir: string;
  let webDir: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vmo-projects-e2e-'));
    webDir = join(root, 'web');
    hostileDir = join(root, `it's "web" $(touch pwned)`);
    await writeMakeProject(webDir);
    await writeMakeProject(hostileDir);
    await mkdir(join(root, 'empty'));
    await mkdir(join(root, 'broken'));
    await writeFile(join(root, 'broken', 'Makefile'), 'all:\n\techo hi\n this line has no separator\n');
    const keys = await mkdtemp(join(tmpdir(), 'vmo-projects-keys-'));
    const userKey = await generateKey(keys, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(keys, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
    system = await TestSystem.start({ label: 'projects', env: { VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: keys } });
    admin = system.client;
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    await system.startAgent('a-1');
    const host = await admin.request('POST', '/v1/hosts', { name: 'box', environment: 'e2e', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath });
    expect(host.status, host.text).toBe(201);
  }, 180_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await system?.stop();
    await sshd?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const create = async (body: Record<string, unknown>) => {
    const res = await admin.request('POST', '/v1/projects', body);
    expect(res.status, res.text).toBe(201);
    return res.body;
  };

  for (const [machine, target] of [
    ['an agent', { type: 'agent', agent: 'a-1' }],
    ['an SSH host', { type: 'ssh', host: 'box@e2e' }],
  ] as const) {
    describe(`on ${machine}`, () => {
      const alias = target.type === 'agent' ? 'web-agent' : 'web-ssh';

      it('discovers the targets by a job there: included ones, descriptions; no specials, patterns, makefiles; audited; then cached', async () => {
        onTestFailed(() => console.log(system.logs()));
        const project = await create({ alias, dir: webDir, target });
        expect(project).toMatchObject({ alias, dir: webDir, targetCount: null, discoveredAt: null, target: target.type === 'agent' ? { type: 'agent', agent: 'a-1' } : { type: 'ssh', host: 'box@e2e' } });
        const res = await admin.request('GET', `/v1/projects/${alias}/targets`);
        expect(res.status, res.text).toBe(200);
        const names = (res.body.targets as { name: string }[]).map((t) => t.name);
        expect(names).toEqual(['build', 'docs/html', 'fail', 'lint', 'paste', 'show']);
        expect(res.body.targets.find((t: { name: string }) => t.name === 'lint')).toEqual({ name: 'lint', description: 'Run the linters', phony: false, file: 'mk/common.mk', line: 2 });
        expect(res.body.targets.find((t: { name: string }) => t.name === 'build')).toMatchObject({ description: 'Build it', phony: true, file: 'Makefile' });
        expect(res.body).toMatchObject({ alias, source: 'make', cached: false, defaultGoal: 'lint' }); // the included makefile's rule comes first
        // A job like any other: the caller's, labelled, its output make's database.
        const job = await admin.job(res.body.jobId);
        expect(job).toMatchObject({ status: 'succeeded', createdBy: expect.any(String), labels: { 'vmo.project': alias, 'vmo.action': 'discover' } });
        expect((await admin.logs(job.id)).toString()).toContain('# Files');
        const [row] = await sql`select action, result, detail from audit_events where action = 'projects.discover' and detail->>'jobId' = ${job.id}`;
        expect(row).toMatchObject({ result: 'allowed', detail: { alias, jobId: job.id } });

        const again = await admin.request('GET', `/v1/projects/${alias}/targets`);
        expect(again.body).toMatchObject({ cached: true, jobId: job.id, targets: res.body.targets });
        const refreshed = await admin.request('GET', `/v1/projects/${alias}/targets?refresh=true`);
        expect(refreshed.status, refreshed.text).toBe(200);
        expect(refreshed.body.cached).toBe(false);
        expect(refreshed.body.jobId).not.toBe(job.id);
        expect((await admin.request('GET', `/v1/projects/${alias}`)).body).toMatchObject({ targetCount: 6, discoveryJobId: refreshed.body.jobId, discoverySource: 'make' });
      });

      it('runs a target as a job with its output live, and a failing one ends with its exit code', async () => {
        const res = await admin.request('POST', `/v1/projects/${alias}/targets/build/run`, {});
        expect(res.status, res.text).toBe(201);
        expect(res.headers.get('location')).toBe(`/v1/jobs/${res.body.id}`);
        expect(res.body).toMatchObject({ status: 'queued', labels: { 'vmo.project': alias, 'vmo.action': 'run', 'vmo.make-target': 'build' } });
        const followed = await followJob(system.apiUrls[0]!, admin.token!, res.body.id);
        expect(followed.stdout.toString()).toBe('built web\n');
        expect(followed.end).toMatchObject({ status: 'succeeded', exitCode: 0 });
        expect(await readFile(join(webDir, 'build.out'), 'utf8')).toBe('built web\n');

        const failing = await admin.request('POST', `/v1/projects/${alias}/targets/fail/run`, {});
        expect(failing.status, failing.text).toBe(201);
        const ended = await admin.waitForEnd(failing.body.id);
        expect(ended).toMatchObject({ status: 'failed', exitCode: 2 }); // make's own status when a recipe fails
        expect((await admin.logs(failing.body.id)).toString()).toContain('failing');
      });

      it('a target with a slash in its name runs (URL-encoded in the path)', async () => {
        const res = await admin.request('POST', `/v1/projects/${alias}/targets/${encodeURIComponent('docs/html')}/run`, {});
        expect(res.status, res.text).toBe(201);
        expect((await admin.waitForEnd(res.body.id)).status).toBe('succeeded');
        expect(await readFile(join(webDir, 'docs', 'html'), 'utf8')).toBe('html\n');
      });
    });
  }

  it('an argument holding shell syntax is refused (400 naming it) and nothing runs; any other reaches make as written, even pasted into a recipe, in a directory whose name is an injection attempt too (asserted on the filesystem)', async () => {
    for (const [alias, target] of [['hostile-agent', { type: 'agent', agent: 'a-1' }], ['hostile-ssh', { type: 'ssh', host: 'box@e2e' }]] as const) {
      await create({ alias, dir: hostileDir, target });
      const before = (await sql`select count(*)::int as n from jobs`)[0]!.n as number;
      for (const value of HOSTILE) {
        const res = await admin.request('POST', `/v1/projects/${alias}/targets/paste/run`, { args: { MSG: value } });
        expect(res.status, res.text).toBe(400);
        expect(res.body.error.details.field).toBe('args.MSG');
      }
      expect((await sql`select count(*)::int as n from jobs`)[0]!.n).toBe(before);
      // Every value through the agent; over SSH (a few seconds a job here) a few.
      for (const value of alias === 'hostile-agent' ? ALLOWED : ALLOWED.slice(0, 2)) {
        const res = await admin.request('POST', `/v1/projects/${alias}/targets/paste/run`, { args: { MSG: value } });
        expect(res.status, res.text).toBe(201);
        const ended = await admin.waitForEnd(res.body.id);
        const output = (await admin.logs(res.body.id)).toString();
        expect(ended.status, `${alias} ${JSON.stringify(value)}: ${output}`).toBe('succeeded');
        expect(output).toBe(`${value.trimStart()}\n`); // make drops a value's leading blanks, as for any NAME=value
      }
      const shown = await admin.request('POST', `/v1/projects/${alias}/targets/show/run`, { args: { MSG: ALLOWED[0] } });
      expect((await admin.waitForEnd(shown.body.id)).status).toBe('succeeded');
      expect(await readFile(join(hostileDir, 'value.txt'), 'utf8')).toBe(ALLOWED[0]);
    }
    expect((await readdir(hostileDir)).sort()).toEqual(['Makefile', 'mk', 'value.txt']);
    expect((await readdir(root)).sort()).toEqual(['broken', 'empty', `it's "web" $(touch pwned)`, 'web']);
  });

  it('refuses a target that was not discovered, and arguments that are not make variables (400 naming them); nothing runs', async () => {
    const before = (await sql`select count(*)::int as n from jobs`)[0]!.n as number;
    const unknown = await admin.request('POST', '/v1/projects/web-agent/targets/deploy/run', {});
    expect(unknown.status, unknown.text).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'unknown_make_target', details: { field: 'target' } });
    for (const [args, field] of [
      [{ '-j4': 'x' }, 'args.-j4'],
      [{ SHELL: '/tmp/evil' }, 'args.SHELL'],
      [{ MAKEFLAGS: '--eval=x' }, 'args.MAKEFLAGS'],
      [{ MSG: 'two\nlines' }, 'args.MSG'],
      [{ MSG: 3 }, 'args.MSG'],
      [['MSG=x'], 'args'],
    ] as const) {
      const res = await admin.request('POST', '/v1/projects/web-agent/targets/show/run', { args });
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.details.field, JSON.stringify(args)).toBe(field);
    }
    expect((await sql`select count(*)::int as n from jobs`)[0]!.n).toBe(before);
  });

  describe('a discovery that cannot answer ends with a clear error, never a hang', () => {
    it('an offline agent: 422 discovery_failed agent_offline naming the job, canceled at once (well before its bound)', async () => {
      const res = await admin.request('POST', '/v1/agents', { name: 'gone' });
      expect(res.status, res.text).toBe(201);
      await create({ alias: 'on-gone', dir: webDir, target: { type: 'agent', agent: 'gone' } });
      const started = Date.now();
      const answer = await admin.request('GET', '/v1/projects/on-gone/targets?timeoutMs=60000');
      expect(answer.status, answer.text).toBe(422);
      expect(answer.body.error).toMatchObject({ code: 'discovery_failed', details: { cause: 'agent_offline', jobId: expect.stringMatching(/^job_/) } });
      expect(answer.body.error.message).toContain(answer.body.error.details.jobId);
      expect(Date.now() - started).toBeLessThan(60_000); // it did not wait for the bound
      expect((await admin.waitForEnd(answer.body.error.details.jobId)).status).toBe('canceled');
    });

    it.each([
      ['no Makefile', 'empty', 'no_makefile', /no GNUmakefile, makefile or Makefile in .*empty on a-1/],
      ['no such directory', 'nowhere', 'dir_missing', /no directory .*nowhere on a-1/],
      ['a makefile make cannot read', 'broken', 'make_failed', /missing separator/],
    ])('%s: 422 discovery_failed %s, the job named', async (_, sub, cause, message) => {
      await create({ alias: `p-${sub}`, dir: join(root, sub), target: { type: 'agent', agent: 'a-1' } });
      const res = await admin.request('GET', `/v1/projects/p-${sub}/targets`);
      expect(res.status, res.text).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'discovery_failed', details: { cause } });
      expect(res.body.error.message).toMatch(message);
      expect((await admin.job(res.body.error.details.jobId)).status).toMatch(/^(succeeded|failed)$/);
    });

    it('a list command slower than the bound: 422 discovery_failed timeout, the job canceled', async () => {
      await create({ alias: 'slow', dir: webDir, target: { type: 'agent', agent: 'a-1' }, listCommand: 'sleep 120' });
      const res = await admin.request('GET', '/v1/projects/slow/targets?timeoutMs=1500');
      expect(res.status, res.text).toBe(422);
      expect(res.body.error.details).toMatchObject({ cause: 'timeout' });
      expect((await admin.waitForEnd(res.body.error.details.jobId)).status).toBe('canceled');
    });
  });

  it("a project's own list command (mkcli's --list-targets) gives its targets and descriptions; a failing one is list_command_failed", async () => {
    await create({ alias: 'listed', dir: webDir, target: { type: 'ssh', host: 'box@e2e' }, listCommand: "printf 'build   Build it\\nlint ## Lint it\\n# a comment\\n'" });
    const res = await admin.request('GET', '/v1/projects/listed/targets');
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ source: 'list_command', targets: [{ name: 'build', description: 'Build it' }, { name: 'lint', description: 'Lint it' }] });
    const ran = await admin.request('POST', '/v1/projects/listed/targets/lint/run', {});
    expect(ran.status, ran.text).toBe(201);
    expect((await admin.logs((await admin.waitForEnd(ran.body.id)).id)).toString()).toBe('linted\n');

    const patched = await admin.request('PATCH', '/v1/projects/listed', { listCommand: 'exit 4' });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ listCommand: 'exit 4', targetCount: null, discoveredAt: null });
    const failed = await admin.request('GET', '/v1/projects/listed/targets');
    expect(failed.status, failed.text).toBe(422);
    expect(failed.body.error.details.cause).toBe('list_command_failed');
  });

  it('imports an mkcli-style registry for a machine: created, updated, unchanged, and each bad line skipped with its number', async () => {
    const registry = ['# projects on box', 'reg-web=' + webDir, '', 'reg-home=$HOME', 'not a line', 'reg-rel=src/app', 'web-agent=' + webDir, 'reg-web=/elsewhere'].join('\n');
    const res = await admin.request('POST', '/v1/projects/import', { target: { type: 'ssh', host: 'box@e2e' }, registry });
    expect(res.status, res.text).toBe(200);
    expect(res.body.created.map((p: { alias: string; dir: string }) => [p.alias, p.dir])).toEqual([['reg-web', webDir], ['reg-home', '~']]);
    expect(res.body.skipped).toEqual([
      { alias: null, line: 5, reason: 'not alias=directory (no "=")' },
      { alias: 'reg-rel', line: 6, reason: expect.stringMatching(/^directory: must be an absolute path/) },
      { alias: 'web-agent', line: 7, reason: 'the alias is a project on another machine (delete it there first)' },
      { alias: 'reg-web', line: 8, reason: 'alias already given on line 2' },
    ]);
    const again = await admin.request('POST', '/v1/projects/import', { target: { type: 'ssh', host: 'box@e2e' }, registry: `reg-web=${webDir}\nreg-home=/root\n` });
    expect(again.body).toMatchObject({ created: [], updated: [{ alias: 'reg-home', dir: '/root' }], unchanged: [{ alias: 'reg-web' }], skipped: [] });
    // An imported project is a project: its targets are there to discover.
    expect((await admin.request('GET', '/v1/projects/reg-web/targets')).body.targets).toHaveLength(6);
  });

  it('bad input is a 400 naming the field, a taken alias 409, and a project is gone after DELETE', async () => {
    for (const [body, field] of [
      [{ alias: 'x', dir: 'relative/path', target: { type: 'local' } }, 'dir'],
      [{ alias: 'import', dir: '/x', target: { type: 'local' } }, 'alias'],
      [{ alias: '-x', dir: '/x', target: { type: 'local' } }, 'alias'],
      [{ alias: 'x', dir: '/x', target: { type: 'vm' } }, 'target.type'],
      [{ alias: 'x', dir: '/x\nrm', target: { type: 'local' } }, 'dir'],
      [{ alias: 'x', dir: '/x', target: { type: 'local' }, extra: 1 }, 'body'],
    ] as const) {
      const res = await admin.request('POST', '/v1/projects', body);
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.details.field, JSON.stringify(body)).toBe(field);
    }
    const taken = await admin.request('POST', '/v1/projects', { alias: 'web-agent', dir: '/x', target: { type: 'local' } });
    expect([taken.status, taken.body.error.code]).toEqual([409, 'project_exists']);
    expect((await admin.request('GET', '/v1/projects/web-agent/targets?refresh=maybe')).status).toBe(400);
    expect((await admin.request('PATCH', '/v1/projects/web-agent', {})).status).toBe(400);
    const list = await admin.request('GET', '/v1/projects?limit=2');
    expect(list.body.items.map((p: { alias: string }) => p.alias)).toEqual(['hostile-agent', 'hostile-ssh']);
    expect(list.body.nextCursor).toBe('hostile-ssh');
    expect((await admin.request('DELETE', '/v1/projects/p-broken')).status).toBe(204);
    expect((await admin.request('GET', '/v1/projects/p-broken')).status).toBe(404);
  });
});
