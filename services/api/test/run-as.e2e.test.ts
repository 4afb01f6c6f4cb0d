/**
 * Issue 8 #6: jobs run as another user (VMO_RUN_AS for the worker, --run-as for the agent) cannot
 * read the service's environment (/proc/$PPID/environ) or its secret files, get that user's uid,
 * groups, HOME, USER and LOGNAME, see only the minimal base environment plus their own `env`, and
 * are still stopped as a process group by a cancel. A service that cannot switch users stops at
 * start with one line naming the variable.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestUser, processesMatching, ServiceProcess, TestSystem, uniqueSleepArg, waitFor, type TestUser } from '@vmo/testkit';

const isRoot = process.getuid?.() === 0;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** What a job reports about itself, one `key: value` per line. */
const PROBE = [
  'echo "uid: $(id -u)"',
  'echo "groups: $(id -Gn)"',
  'echo "ppid: $PPID"',
  'echo "home: $HOME"; echo "user: $USER"; echo "logname: $LOGNAME"; echo "pwd: $(pwd)"',
  `if tr '\\0' '\\n' < /proc/$PPID/environ >/dev/null 2>&1; then echo "environ: read"; else echo "environ: denied"; fi`,
  'if cat "$SECRET_FILE" >/dev/null 2>&1; then echo "secret file: read"; else echo "secret file: denied"; fi',
  'echo "env: $(env | cut -d= -f1 | sort | tr "\\n" " ")"',
].join('\n');

const report = (output: string) => Object.fromEntries(output.trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));

describe.skipIf(!isRoot)('run-as user (needs root: it creates a user and switches to it)', () => {
  let system: TestSystem;
  let user: TestUser;
  let secrets: string;
  let worker: ServiceProcess;
  let agent: { id: string; process: ServiceProcess };
  const dbUrlFile = () => join(secrets, 'database-url');
  const agentTokenFile = () => join(secrets, 'agent-token');

  beforeAll(async () => {
    user = ensureTestUser();
    secrets = mkdtempSync(join(tmpdir(), 'vmo-secrets-')); // 0700, root's
    system = await TestSystem.start({ label: 'runas', workers: 0 });
    // The worker takes its database URL from a file and runs jobs as the test user.
    const { VMO_DATABASE_URL, ...rest } = system.env;
    writeFileSync(dbUrlFile(), `${VMO_DATABASE_URL}\n`, { mode: 0o600 });
    worker = new ServiceProcess('worker', { ...rest, VMO_DATABASE_URL_FILE: dbUrlFile(), VMO_RUN_AS: user.name });
    system.workers.push(worker);
    await worker.waitForOutput(/"msg":"worker started"/);
    // The agent reads its token from a file and runs jobs as the test user.
    const res = await system.client.request('POST', '/v1/agents', { name: 'runas-agent' });
    writeFileSync(agentTokenFile(), `${res.body.token}\n`, { mode: 0o600 });
    const proc = new ServiceProcess('agent', { VMO_AGENT_TOKEN_FILE: agentTokenFile(), VMO_LOG_LEVEL: 'info' }, ['--server', system.apiUrls[0]!, '--run-as', user.name]);
    system.agents.push(proc);
    agent = { id: res.body.id, process: proc };
    await system.waitForAgentStatus(agent.id, 'online');
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(secrets, { recursive: true, force: true });
  });

  const targets = () => [
    { name: 'local (worker)', target: { type: 'local' }, service: worker, secretFile: dbUrlFile() },
    { name: 'agent', target: { type: 'agent', agent: agent.id }, service: agent.process, secretFile: agentTokenFile() },
  ];

  it('a job runs as the user, with its groups and passwd entry, and cannot read the service environment or secret files', async () => {
    for (const { name, target, service, secretFile } of targets()) {
      const job = await system.client.submit({ command: PROBE, env: { SECRET_FILE: secretFile }, target });
      const end = await system.client.waitForEnd(job.id);
      const out = (await system.client.logs(job.id)).toString();
      expect(end.status, `${name}: ${out}`).toBe('succeeded');
      const r = report(out);
      expect(r, name).toMatchObject({
        uid: String(user.uid),
        ppid: String(service.pid), // the job's parent is the service itself
        home: '/nonexistent',
        user: user.name,
        logname: user.name,
        pwd: '/', // no cwd given and HOME does not exist
        environ: 'denied',
        'secret file': 'denied',
      });
      expect(r.groups!.split(' ').sort(), name).toEqual([user.name, user.extraGroup].sort());
      // The README's claim: the minimal base plus the job's env, never the service's own.
      expect(r.env!.trim().split(' ').sort(), name).toEqual(['HOME', 'LANG', 'LOGNAME', 'PATH', 'PWD', 'SECRET_FILE', 'SHELL', 'USER', 'VMO_JOB_ID'].sort());
    }
  });

  it('a cancel still stops the whole process group of the other user', async () => {
    for (const { name, target } of targets()) {
      const marker = uniqueSleepArg();
      const job = await system.client.submit({ command: `sleep ${marker} & sleep ${marker}; wait`, target });
      await waitFor(`${name}: both sleeps running`, async () => ((await processesMatching(`^sleep ${marker}`)).length === 2 ? true : undefined), 30_000);
      expect((await system.client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 2000 })).status).toBe(202);
      expect((await system.client.waitForEnd(job.id)).status, name).toBe('canceled');
      await waitFor(`${name}: the job's processes gone`, async () => ((await processesMatching(`^sleep ${marker}`)).length === 0 ? true : undefined), 30_000);
    }
  });

  it('the worker and the agent refuse a user that does not exist, naming the variable', async () => {
    const w = new ServiceProcess('worker', { ...system.env, VMO_RUN_AS: 'vmo-no-such-user' });
    expect((await w.exited).code).toBe(78);
    expect(w.output).toBe('vmo: invalid configuration: VMO_RUN_AS: no user "vmo-no-such-user" on this machine (getent passwd vmo-no-such-user found nothing)\n');
    const a = new ServiceProcess('agent', { VMO_AGENT_TOKEN: 'vmo_agt_whatever' }, ['--server', 'http://127.0.0.1:1', '--run-as', 'vmo-no-such-user']);
    expect((await a.exited).code).toBe(78);
    expect(a.output).toMatch(/^vmo-agent: invalid configuration: --run-as: no user "vmo-no-such-user"/);
  });

  it('a service that cannot switch users stops at start with one line saying why', async () => {
    // The worker and the agent started as the (unprivileged) test user, asked to run jobs as nobody.
    const asUser = (entry: string, env: Record<string, string>, args: string[] = []) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', process.execPath, '--import', 'tsx', entry, ...args], {
          cwd: ROOT,
          env: { PATH: process.env.PATH!, HOME: '/tmp', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (d: Buffer) => (output += d.toString()));
        child.stderr.on('data', (d: Buffer) => (output += d.toString()));
        child.on('close', (code) => resolve({ code, output }));
      });
    const w = await asUser('services/worker/src/main.ts', { ...system.env, VMO_RUN_AS: 'nobody' });
    expect(w.code).toBe(78);
    expect(w.output).toMatch(/^vmo: invalid configuration: VMO_RUN_AS: cannot run commands as nobody \(uid 65534\): setpriv: .*; the service must run as root, or with CAP_SETUID, CAP_SETGID and CAP_KILL\n$/);
    const a = await asUser('services/agent/src/main.ts', { VMO_AGENT_TOKEN: 'vmo_agt_whatever' }, ['--server', 'http://127.0.0.1:1', '--run-as', 'nobody']);
    expect(a.code).toBe(78);
    expect(a.output).toMatch(/^vmo-agent: invalid configuration: --run-as: cannot run commands as nobody \(uid 65534\)/);
  });
});
