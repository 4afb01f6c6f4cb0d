/**
 * Issue 12, agents that install themselves: `vmo agents add` writes the token to a 0600 file and
 * prints one line; that line, run as printed (with --prefix and --run-as for this machine), fetches
 * the installer from the real API, which downloads the agent, checks its sha256 and the token, and
 * installs it as a systemd service. Run in a scratch root: `unshare -m` with the unit directory
 * bound to a temp dir and a tmpfs on /run/systemd saying systemd runs, and a fake `systemctl` on
 * PATH recording its calls. The installed agent, started from the prefix, comes online; a bad
 * token installs nothing; --uninstall leaves nothing behind. `unshare` is a test prerequisite
 * (packages/testkit/src/prerequisites.ts): without it `npm test` stops at once, nothing is skipped.
 * The installer refuses a plain-http server that is not this machine; run from the repository it
 * builds the agent from the sources beside it (never an old dist/).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';
import { runCli } from './run-cli.ts';

/** A `vmo` process's deadline: on a loaded machine (two cores, several suites) it can take a minute to start. */
const SLOW = 240_000;
/** services/agent: the repository's copy of the installer is in deploy/, the sources beside it. */
const AGENT_DIR = fileURLToPath(new URL('../../../services/agent/', import.meta.url));
const INSTALL_SH = join(AGENT_DIR, 'deploy', 'install.sh');

/**
 * `file args…` without blocking this process (unlike spawnSync): the test's HTTP client must see
 * the server close its idle connections meanwhile, or its next request goes to a closed socket.
 */
function run(file: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeout: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { ...opts, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      resolve({ status: err ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
    });
  });
}

describe('the installer refuses plain http to another machine (no server needed: it stops before any network)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vmo-install-http-'));
    writeFileSync(join(dir, 'agent.token'), 'vmo_agt_notcheckedbecauseitstopsbefore\n', { mode: 0o600 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const install = (...args: string[]) =>
    spawnSync('sh', [INSTALL_SH, '--token-file', join(dir, 'missing.token'), '--no-service', '--prefix', join(dir, 'opt'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });

  it('refuses http:// to any host but this machine, in one line naming --insecure-http, and installs nothing', () => {
    for (const server of ['http://vmo.example.com', 'http://10.1.2.3:3121', 'http://127.0.0.1.evil.example', 'http://evil.example?@127.0.0.1', 'http://127.0.0.1@evil.example', 'http://[::2]:3121']) {
      const r = install('--server', server);
      expect(r.status, server).toBe(1);
      expect(r.stderr.trim().split('\n'), server).toEqual([
        `install.sh: refusing --server ${server}: over plain http the agent token would cross the network in cleartext and the agent's code (and its sha256) could be swapped on the way; use https://, or pass --insecure-http if this network is trusted`,
      ]);
      expect(existsSync(join(dir, 'opt'))).toBe(false);
    }
  });

  it('lets through https://, http:// to loopback (127.0.0.0/8, ::1, localhost), and http:// with --insecure-http', () => {
    // Each gets past the check to the next one: the token file, which is missing.
    for (const args of [['--server', 'https://vmo.example.com'], ['--server', 'http://127.0.0.1:3121'], ['--server', 'http://127.9.8.7'], ['--server', 'http://[::1]:3121/'], ['--server', 'http://LocalHost:3121'], ['--server', 'http://vmo.example.com', '--insecure-http']]) {
      const r = install(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toBe(`install.sh: --token-file: cannot read ${join(dir, 'missing.token')}\n`);
    }
  });
});

// Generous: each `vmo` is a Node process loading TypeScript through tsx, slow on a loaded machine.
describe('the agent installer (real API, scratch root)', { timeout: 600_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let env: Record<string, string>;
  const started: ReturnType<typeof spawn>[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'cli_install' });
    dir = mkdtempSync(join(tmpdir(), 'vmo-install-'));
    chmodSync(dir, 0o755); // the job user (nobody) must reach the prefix
    for (const sub of ['units', 'bin', 'vm', 'xdg']) mkdirSync(join(dir, sub));
    // A systemctl that records what it is asked (one call per line) and succeeds.
    writeFileSync(join(dir, 'bin', 'systemctl'), `#!/bin/sh\necho "$*" >>'${dir}/systemctl.log'\n`, { mode: 0o755 });
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(dir, 'xdg') };
  }, 240_000);
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `sh -c LINE` in a mount namespace of its own: /etc/systemd/system is dir/units, /run/systemd a tmpfs with system/ in it. */
  function inScratchRoot(line: string, cwd: string) {
    const setup = [
      'set -e',
      `mount --bind '${dir}/units' /etc/systemd/system`,
      'mount -t tmpfs tmpfs /run/systemd',
      'mkdir /run/systemd/system',
      `exec sh -c "$1"`,
    ].join('\n');
    return spawnSync('unshare', ['-m', 'sh', '-c', setup, 'scratch', line], {
      cwd,
      env: { PATH: `${dir}/bin:${process.env.PATH}`, HOME: cwd, TMPDIR: tmpdir() },
      encoding: 'utf8',
      timeout: 120_000,
    });
  }

  const systemctlCalls = () => (existsSync(join(dir, 'systemctl.log')) ? readFileSync(join(dir, 'systemctl.log'), 'utf8').trim().split('\n') : []);

  it('serves the agent with its sha256, and an installer that expects that sha256', async () => {
    const res = await fetch(`${system.apiUrls[0]}/v1/agent/download`);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const sha = createHash('sha256').update(body).digest('hex');
    expect(res.headers.get('x-vmo-agent-sha256')).toBe(sha);
    expect(res.headers.get('etag')).toBe(`"${sha}"`);
    expect(body.length).toBeGreaterThan(100_000);
    const again = await fetch(`${system.apiUrls[0]}/v1/agent/download`, { headers: { 'if-none-match': `"${sha}"` } });
    expect(again.status).toBe(304);
    const script = await (await fetch(`${system.apiUrls[0]}/v1/agent/install.sh`)).text();
    expect(script).toContain(`served_sha256=${sha}`);
    expect(script).toContain('ExecStart=/usr/bin/env node /opt/vmo-agent/vmo-agent.mjs'); // the unit, written in
    expect(spawnSync('sh', ['-n'], { input: script }).status).toBe(0);
  });

  it('a token the server refuses installs nothing and enables nothing', () => {
    const vm = join(dir, 'vm');
    writeFileSync(join(vm, 'bad.token'), 'vmo_agt_thisisnotarealtokenatall0123456789\n', { mode: 0o600 });
    const r = inScratchRoot(`curl -fsSL '${system.apiUrls[0]}/v1/agent/install.sh' | sh -s -- --server '${system.apiUrls[0]}' --token-file bad.token --prefix '${dir}/bad' --run-as nobody`, vm);
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.stderr).toContain('the server refused the token');
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    expect(readdirSync(join(dir, 'units'))).toEqual([]);
    expect(systemctlCalls()).toEqual([]);
  });

  it('agents add → 0600 token file → the printed command installs a service whose agent comes online; --uninstall leaves nothing', async () => {
    const vm = join(dir, 'vm');
    const add = await runCli(['agents', 'add', 'web-1', '--labels', 'env=test,role=web'], { env, cwd: vm, timeoutMs: SLOW });
    expect(add.code, add.stderr.toString()).toBe(0);
    const tokenFile = join(vm, 'web-1.token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^vmo_agt_/);
    const line = add.stdout.toString().trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).not.toContain(token);
    expect(line).toBe(`curl -fsSL ${system.apiUrls[0]}/v1/agent/install.sh | sudo sh -s -- --server ${system.apiUrls[0]} --token-file web-1.token`);

    // As printed (we are root here: no sudo), into a prefix, jobs as nobody.
    const prefix = join(dir, 'opt');
    const install = inScratchRoot(`${line.replace('| sudo sh', '| sh')} --prefix '${prefix}' --run-as nobody`, vm);
    expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
    expect(install.stderr).toContain('agent web-1');
    expect(systemctlCalls()).toEqual(['daemon-reload', 'enable vmo-agent.service', 'restart vmo-agent.service']);
    const unit = readFileSync(join(dir, 'units', 'vmo-agent.service'), 'utf8');
    expect(unit).toMatch(new RegExp(`^ExecStart=/\\S*node ${prefix}/vmo-agent.mjs$`, 'm'));
    expect(unit).toContain(`EnvironmentFile=${prefix}/etc/agent.env`);
    expect(statSync(join(prefix, 'etc', 'token')).mode & 0o777).toBe(0o600);
    expect(statSync(join(prefix, 'etc', 'agent.env')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(prefix, 'etc', 'token'), 'utf8').trim()).toBe(token);
    const served = createHash('sha256').update(readFileSync(join(prefix, 'vmo-agent.mjs'))).digest('hex');
    expect((await fetch(`${system.apiUrls[0]}/v1/agent/download`, { method: 'GET' })).headers.get('x-vmo-agent-sha256')).toBe(served);

    // What systemd would run: the installed agent with the installed settings (the launcher).
    const agent = spawn(join(prefix, 'vmo-agent'), [], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH! } });
    started.push(agent);
    let output = '';
    agent.stdout!.on('data', (d: Buffer) => (output += d));
    agent.stderr!.on('data', (d: Buffer) => (output += d));
    await waitFor('web-1 online', async () => ((await system.client.vmo.agents.get('web-1')).status === 'online' ? true : undefined), 60_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}\n${output}`);
    });
    const ls = await runCli(['agents', 'ls', '--json'], { env, timeoutMs: SLOW });
    expect(ls.code, ls.stderr.toString()).toBe(0);
    const online = (JSON.parse(ls.stdout.toString()) as { name: string; status: string; labels: Record<string, string>; hostname: string }[]).find((a) => a.name === 'web-1')!;
    expect(online).toMatchObject({ status: 'online', labels: { env: 'test', role: 'web' } });
    expect(online.hostname).not.toBeNull();
    // It runs jobs, as the --run-as user.
    const job = await system.client.submit({ command: 'id -un', target: { type: 'agent', agent: 'web-1' } });
    const ended = await system.client.waitForEnd(job.id);
    expect(ended.status).toBe('succeeded');
    expect(Buffer.from(await system.client.vmo.jobs.logs(job.id)).toString()).toBe('nobody\n');
    agent.kill('SIGTERM');
    await new Promise((resolve) => (agent.exitCode === null ? agent.once('exit', resolve) : resolve(undefined)));

    const uninstall = inScratchRoot(`curl -fsSL '${system.apiUrls[0]}/v1/agent/install.sh' | sh -s -- --uninstall --prefix '${prefix}'`, vm);
    expect(uninstall.status, uninstall.stderr).toBe(0);
    expect(systemctlCalls().slice(3)).toEqual(['disable --now vmo-agent.service', 'daemon-reload']);
    expect(existsSync(prefix)).toBe(false);
    expect(readdirSync(join(dir, 'units'))).toEqual([]);
  });

  it('--no-service --prefix installs only into the prefix (no root paths, no systemctl), and --uninstall removes it', () => {
    const vm = join(dir, 'vm');
    const prefix = join(dir, 'plain');
    const calls = systemctlCalls().length;
    const units = readdirSync(join(dir, 'units'));
    // Outside any namespace: nothing of the machine's may be touched.
    const run = (args: string) =>
      spawnSync('sh', ['-c', `curl -fsSL '${system.apiUrls[0]}/v1/agent/install.sh' | sh -s -- ${args}`], { cwd: vm, env: { PATH: `${dir}/bin:${process.env.PATH}`, HOME: vm }, encoding: 'utf8', timeout: 120_000 });
    const install = run(`--server '${system.apiUrls[0]}' --token-file web-1.token --no-service --prefix '${prefix}'`);
    expect(install.status, install.stderr).toBe(0);
    expect(install.stdout).toContain(`Start it with: ${prefix}/vmo-agent`);
    expect(readdirSync(prefix).sort()).toEqual(['etc', 'vmo-agent', 'vmo-agent.mjs']);
    expect(readFileSync(join(prefix, 'etc', 'agent.env'), 'utf8')).toBe(`VMO_SERVER=${system.apiUrls[0]}\nVMO_AGENT_TOKEN_FILE=${prefix}/etc/token\n`);
    expect(systemctlCalls()).toHaveLength(calls);
    expect(readdirSync(join(dir, 'units'))).toEqual(units);
    const uninstall = run(`--uninstall --prefix '${prefix}'`);
    expect(uninstall.status, uninstall.stderr).toBe(0);
    expect(existsSync(prefix)).toBe(false);
  });

  it('--uninstall after an enrolment removes the state the agent left (enrol.nonce) and the prefix with it', async () => {
    const vm = join(dir, 'vm');
    const prefix = join(dir, 'enrolled');
    writeFileSync(join(vm, 'enrol-token'), 'vmo_enr_notusedbecausetheagentisnotstarted\n', { mode: 0o600 });
    const served = (args: string) =>
      run('sh', ['-c', `curl -fsSL '${system.apiUrls[0]}/v1/agent/install.sh' | sh -s -- ${args}`], { cwd: vm, env: { PATH: `${dir}/bin:${process.env.PATH}`, HOME: vm }, timeout: 120_000 });
    const install = await served(`--server '${system.apiUrls[0]}' --enrol-file enrol-token --no-service --prefix '${prefix}'`);
    expect(install.status, install.stderr).toBe(0);
    // What the agent writes before its first enrolment attempt (services/agent/src/state-dir.ts).
    writeFileSync(join(prefix, 'state', 'enrol.nonce'), 'a-nonce\n', { mode: 0o600 });
    const uninstall = await served(`--uninstall --prefix '${prefix}'`);
    expect(uninstall.status, uninstall.stderr).toBe(0);
    expect(uninstall.stderr).not.toContain('leaving');
    expect(existsSync(prefix)).toBe(false);
  });

  it("the repository's install.sh builds the agent from the sources beside it, not an old dist/vmo-agent.mjs, and says so", async () => {
    // A copy of the repository's layout: deploy/ beside build.mjs (the real one: it builds the real
    // sources) and a stale dist/ that the installer once preferred without a word.
    const tree = join(dir, 'repo', 'agent');
    mkdirSync(join(tree, 'deploy'), { recursive: true });
    mkdirSync(join(tree, 'dist'));
    for (const file of ['install.sh', 'vmo-agent.service']) copyFileSync(join(AGENT_DIR, 'deploy', file), join(tree, 'deploy', file));
    symlinkSync(join(AGENT_DIR, 'build.mjs'), join(tree, 'build.mjs'));
    writeFileSync(join(tree, 'dist', 'vmo-agent.mjs'), "console.log('an agent built long ago');\n");
    const { token } = await system.client.vmo.agents.register({ name: 'from-repo' });
    const vm = join(dir, 'vm');
    writeFileSync(join(vm, 'from-repo.token'), `${token}\n`, { mode: 0o600 });
    const prefix = join(dir, 'from-repo');
    const r = await run('sh', [join(tree, 'deploy', 'install.sh'), '--server', system.apiUrls[0]!, '--token-file', 'from-repo.token', '--no-service', '--prefix', prefix], {
      cwd: vm,
      env: { PATH: process.env.PATH!, HOME: vm },
      timeout: 180_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const installed = createHash('sha256').update(readFileSync(join(prefix, 'vmo-agent.mjs'))).digest('hex');
    expect(r.stderr).toContain(`install.sh: installing the agent built now from ${tree} (sha256 ${installed})`);
    // The sources' agent: the very bytes the server serves (one set of build options).
    expect((await fetch(`${system.apiUrls[0]}/v1/agent/download`)).headers.get('x-vmo-agent-sha256')).toBe(installed);
    rmSync(prefix, { recursive: true, force: true });
  });
});
