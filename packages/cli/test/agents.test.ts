/**
 * Issue 12: `vmo agents ls|add|rm` against the real stack, the real CLI as a child process: the
 * listing as the API has it (--json one document, -o wide), colour only on a terminal without
 * NO_COLOR, the token only in a new 0600 file (the name checked before any path is built from it;
 * an agent whose token could not be written is revoked again), a warning for a plain-http server,
 * and GET /v1/agent/whoami (what the installer asks).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { baseEnv, CLI_BIN, runCli, startCliInPty, type CliResult } from './run-cli.ts';

// Generous: each `vmo` is a Node process loading TypeScript through tsx, slow on a loaded machine.
describe('vmo agents (real stack)', { timeout: 300_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let env: Record<string, string>;
  let online: { id: string; token: string };

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'cli_agents', workers: 0 });
    dir = mkdtempSync(join(tmpdir(), 'vmo-agents-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(dir, 'xdg') };
    online = await system.startAgent('web-a', { labels: { env: 'prod', role: 'web' } });
  }, 240_000);
  afterAll(async () => {
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const vmo = (args: string[], extra: Record<string, string> = {}) => runCli(args, { env: { ...env, ...extra }, cwd: dir, timeoutMs: 240_000 });
  /** Fields that move on their own (heartbeats) are left out of a comparison. */
  const steady = ({ lastSeenAt: _l, ...rest }: Record<string, unknown>) => rest;

  it('ls --json is one JSON document: the agents as GET /v1/agents has them', async () => {
    await vmo(['agents', 'add', 'idle-1']);
    const r = await vmo(['agents', 'ls', '--json']);
    expect(r.code, r.stderr.toString()).toBe(0);
    const listed = JSON.parse(r.stdout.toString()) as Record<string, unknown>[];
    const api = (await system.client.vmo.agents.list()).items as unknown as Record<string, unknown>[];
    expect(listed.map(steady)).toEqual(api.map(steady));
    expect(listed.map((a) => a.name).sort()).toEqual(['idle-1', 'web-a']);
    // -o json is the same document.
    const o = await vmo(['agents', 'ls', '-o', 'json']);
    expect((JSON.parse(o.stdout.toString()) as Record<string, unknown>[]).map(steady)).toEqual(listed.map(steady));
  });

  it('ls prints an aligned table (name, status, labels, version, last seen); -o wide adds id, hostname, os', async () => {
    const r = await vmo(['agents', 'ls']);
    expect(r.code).toBe(0);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +STATUS +LABELS +VERSION +LAST SEEN$/);
    const web = lines.find((l) => l.startsWith('web-a'))!;
    expect(web).toMatch(/^web-a +online +env=prod,role=web +\d+\.\d+\.\d+ +now$/);
    expect(lines.find((l) => l.startsWith('idle-1'))).toMatch(/^idle-1 +offline +- +- +-$/);
    // Aligned: every column starts where its header does.
    const at = lines[0]!.indexOf('STATUS');
    for (const line of lines.slice(1)) expect(line.slice(at).startsWith('online') || line.slice(at).startsWith('offline')).toBe(true);
    expect(r.stdout.toString()).not.toContain('\x1b['); // a pipe: no colour

    const wide = await vmo(['agents', 'ls', '-o', 'wide']);
    expect(wide.stdout.toString().split('\n')[0]).toMatch(/^NAME +STATUS +LABELS +VERSION +LAST SEEN +RUNNING +ID +HOSTNAME +OS$/);
    expect(wide.stdout.toString()).toContain(online.id);
    expect(wide.stdout.toString()).toMatch(new RegExp(`web-a .* ${online.id} +\\S+ +${process.platform}/${process.arch}`));

    const both = await vmo(['agents', 'ls', '--json', '-o', 'wide']);
    expect(both.code).toBe(2);
    expect(both.stderr.toString()).toContain('--json and -o wide');
  });

  it('colours the status on a terminal, and not with NO_COLOR', async () => {
    const tty = startCliInPty(['agents', 'ls'], { env });
    const { code, output } = await tty.done;
    expect(code).toBe(0);
    expect(output).toContain('\x1b[32monline\x1b[39m');
    const plain = await startCliInPty(['agents', 'ls'], { env: { ...env, NO_COLOR: '1' } }).done;
    expect(plain.output).toContain('online');
    expect(plain.output).not.toContain('\x1b[');
  });

  it('add writes the token to a new 0600 file, never prints it, and --json gives the install command', async () => {
    const r = await vmo(['agents', 'add', 'db-7', '--labels', 'env=staging', '--token-file', join(dir, 'db-7.tok'), '--json']);
    expect(r.code, r.stderr.toString()).toBe(0);
    const token = readFileSync(join(dir, 'db-7.tok'), 'utf8').trim();
    expect(token).toMatch(/^vmo_agt_/);
    expect(statSync(join(dir, 'db-7.tok')).mode & 0o777).toBe(0o600);
    expect(r.stdout.toString() + r.stderr.toString()).not.toContain(token);
    expect(r.stderr.toString()).not.toContain('warning'); // http, but to this machine
    const shown = JSON.parse(r.stdout.toString());
    expect(shown).toMatchObject({ name: 'db-7', labels: { env: 'staging' }, status: 'offline', tokenFile: join(dir, 'db-7.tok') });
    expect(shown).not.toHaveProperty('token');
    expect(shown.installCommand).toBe(`curl -fsSL ${system.apiUrls[0]}/v1/agent/install.sh | sudo sh -s -- --server ${system.apiUrls[0]} --token-file db-7.tok`);
    // The file holds the agent's token: the server knows it.
    const whoami = await fetch(`${system.apiUrls[0]}/v1/agent/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(whoami.status).toBe(200);
    expect(await whoami.json()).toEqual({ id: shown.id, name: 'db-7', labels: { env: 'staging' } });
  });

  it('add never overwrites a file (and then registers nothing); bad labels are a usage error', async () => {
    writeFileSync(join(dir, 'keep.token'), 'something else\n');
    const r = await vmo(['agents', 'add', 'keep', '--token-file', join(dir, 'keep.token')]);
    expect(r.code).toBe(70);
    expect(r.stderr.toString()).toContain('exists already');
    expect(readFileSync(join(dir, 'keep.token'), 'utf8')).toBe('something else\n');
    expect((await system.client.request('GET', '/v1/agents/keep')).status).toBe(404);

    const bad = await vmo(['agents', 'add', 'x', '--labels', 'novalue']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.toString()).toContain('--labels: "novalue" is not k=v');
    // A name the API would refuse is refused before anything is built from it (the default
    // token file is ./NAME.token): the API's rule and words, a usage error, no file, no agent.
    const before = readdirSync(dir).sort();
    const rule = 'must be 1-63 letters, digits, "_", "." or "-", starting with a letter or digit';
    for (const name of ['bad name!', '../escaped']) {
      const refused = await vmo(['agents', 'add', name]);
      expect(refused.code, name).toBe(2);
      expect(refused.stderr.toString(), name).toBe(`vmo: usage: NAME: ${JSON.stringify(name)} ${rule}\n`);
    }
    // The same check in-process (a vmo process each would take seconds on a loaded machine).
    const { checkAgentName } = await import('../src/commands/agents.ts');
    for (const name of ['.hidden', 'a/b', '..', '', 'x'.repeat(64)]) expect(() => checkAgentName(name), name).toThrow(`NAME: ${JSON.stringify(name)} ${rule}`);
    expect(checkAgentName('web-1.prod_2')).toBe('web-1.prod_2');
    expect(existsSync(join(dir, '..', 'escaped.token'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect((await system.client.vmo.agents.list()).items.map((a) => a.name)).not.toContain('../escaped');
  });

  it('add revokes the agent again when its token cannot be written (the token is shown once: nothing is left that nobody can connect as)', async () => {
    // A file-size limit of 0: the file is created, the write fails (EFBIG), after the agent is registered.
    const child = spawn('sh', ['-c', 'ulimit -f 0; exec "$@"', 'sh', process.execPath, CLI_BIN, 'agents', 'add', 'lost-1'], { cwd: dir, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const r = await new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) })));
    const stderr = r.stderr.toString();
    expect(r.code, stderr).toBe(70);
    expect(stderr).toMatch(/^vmo: cli_error: --token-file: could not write the token to \.\/lost-1\.token \(EFBIG\): agent lost-1 \(agt_\w+\) was registered, then revoked again \(its token, shown only once, is lost\); run the command again with a writable --token-file\n$/);
    expect(existsSync(join(dir, 'lost-1.token'))).toBe(false);
    expect((await system.client.request('GET', '/v1/agents/lost-1')).status).toBe(404);
    expect((await system.client.vmo.agents.list()).items.map((a) => a.name)).not.toContain('lost-1');
  });

  it('add warns on stderr when the server is plain http on another machine (the installer would refuse it)', async () => {
    // Nothing listens there: the warning comes first, then the connection error.
    const r = await vmo(['agents', 'add', 'far-1'], { VMO_SERVER: 'http://vmo.invalid:3121' });
    expect(r.code).toBe(70);
    expect(r.stderr.toString()).toContain(
      "vmo: warning: http://vmo.invalid:3121 is plain http: the agent's token would cross the network in cleartext and its code could be swapped on the way, so the installer refuses such a server unless given --insecure-http; use an https:// server\n",
    );
    expect(existsSync(join(dir, 'far-1.token'))).toBe(false);
    const { isLoopbackUrl, plainHttpWarning } = await import('../src/commands/agents.ts');
    for (const url of ['http://127.0.0.1:3121', 'http://127.3.2.1', 'http://localhost:80/', 'http://LOCALHOST', 'http://[::1]:3121']) expect(isLoopbackUrl(url), url).toBe(true);
    for (const url of ['http://10.0.0.1', 'http://127.0.0.1.evil.example', 'http://evil.example?@127.0.0.1', 'http://[::2]', 'http://vmo.example.com']) expect(isLoopbackUrl(url), url).toBe(false);
    expect(plainHttpWarning('https://vmo.example.com')).toBeUndefined();
    expect(plainHttpWarning('http://127.0.0.1:3121')).toBeUndefined();
  });

  it('rm revokes: the token is refused from then on (whoami 401); an unknown agent is not_found', async () => {
    await vmo(['agents', 'add', 'gone-1', '--token-file', join(dir, 'gone-1.token')]);
    const token = readFileSync(join(dir, 'gone-1.token'), 'utf8').trim();
    const whoami = () => fetch(`${system.apiUrls[0]}/v1/agent/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect((await whoami()).status).toBe(200);
    const r = await vmo(['agents', 'rm', 'gone-1']);
    expect(r.code, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toBe('gone-1: revoked\n');
    const after = await whoami();
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const again = await vmo(['agents', 'rm', 'gone-1']);
    expect(again.code).toBe(70);
    expect(again.stderr.toString()).toMatch(/^vmo: not_found: /);
  });

  it('whoami takes an agent token only: a user token is 403, none is 401; each answer as its contract says', async () => {
    const { agentWhoami, AgentIdentity, ErrorBody } = await import('@vmo/shared/api');
    const res = await fetch(`${system.apiUrls[0]}/v1/agent/whoami`, { headers: { authorization: `Bearer ${online.token}` } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ id: online.id, name: 'web-a', labels: { env: 'prod', role: 'web' } });
    expect(AgentIdentity.safeParse(body).success).toBe(true);
    for (const [headers, status, code] of [[{ authorization: `Bearer ${system.token}` }, 403, 'forbidden'], [{}, 401, 'unauthorized']] as const) {
      const refused = await fetch(`${system.apiUrls[0]}/v1/agent/whoami`, { headers });
      expect(refused.status).toBe(status);
      expect(Object.keys(agentWhoami.responses)).toContain(String(status));
      const error = ErrorBody.parse(await refused.json());
      expect(error.error.code).toBe(code);
    }
  });

  it('--help of each command has an example', async () => {
    // Every command of this file's groups, in-process (ten Node processes would take minutes on a loaded machine)…
    const { Command } = await import('commander');
    const { registerAgents } = await import('../src/commands/agents.ts');
    const { registerHosts } = await import('../src/commands/hosts.ts');
    const { registerTargets } = await import('../src/commands/targets.ts');
    const program = new Command('vmo');
    registerAgents(program);
    registerHosts(program);
    registerTargets(program);
    const all = (cmd: InstanceType<typeof Command>): InstanceType<typeof Command>[] => [cmd, ...cmd.commands.flatMap(all)];
    const commands = program.commands.flatMap(all);
    expect(commands.map((c) => c.name()).sort()).toEqual(['add', 'add', 'agents', 'hosts', 'import', 'ls', 'ls', 'rm', 'rm', 'targets']);
    for (const cmd of commands) {
      let text = '';
      cmd.configureOutput({ writeOut: (t) => (text += t) });
      cmd.outputHelp();
      expect(text, cmd.name()).toMatch(/Examples:\n {2}vmo /);
    }
    // …and once through the real CLI.
    const r = await vmo(['agents', 'add', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain('Examples:\n  vmo agents add web-1 --labels env=prod,role=web');
  });
});
