/**
 * Issue 8 #14: the agent's token need not be on the command line (where `ps` shows it to every
 * user): `--token-file` / `VMO_AGENT_TOKEN_FILE`. `--token` still works but warns, without the
 * value; no error ever echoes a token; once read, the token variables leave the environment.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../src/config.ts';
import { AGENT_TOKEN, FakeGateway } from './fake-gateway.ts';
import { waitFor } from './wait-for.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vmo-agent-token-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tokenFile = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
};

function runCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', mainTs, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH!, VMO_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  return { child, exited, stderr: () => stderr };
}

describe('agent token from a file', () => {
  it.each([
    ['--token-file', (f: string) => ({ args: ['--token-file', f], env: {} })],
    ['VMO_AGENT_TOKEN_FILE', (f: string) => ({ args: [], env: { VMO_AGENT_TOKEN_FILE: f } })],
  ])('%s: connects with the token read from the file; the token is in neither argv nor the environment', async (_how, how) => {
    const gw = await FakeGateway.start();
    try {
      const { args, env } = how(tokenFile('token', `${AGENT_TOKEN}\n`));
      const agent = runCli(['--server', gw.url, ...args], env);
      await waitFor('hello', () => gw.current?.hello, 15_000);
      expect(gw.current!.headers.authorization).toBe(`Bearer ${AGENT_TOKEN}`);
      expect(readFileSync(`/proc/${agent.child.pid}/cmdline`, 'utf8')).not.toContain(AGENT_TOKEN);
      expect(readFileSync(`/proc/${agent.child.pid}/environ`, 'utf8')).not.toContain(AGENT_TOKEN);
      agent.child.kill('SIGTERM');
      const { code, stderr } = await agent.exited;
      expect(code).toBe(0);
      expect(stderr).not.toContain('--token puts');
    } finally {
      await gw.close();
    }
  });

  it('--token on the command line still works, with a warning that does not repeat it', async () => {
    const gw = await FakeGateway.start();
    try {
      const agent = runCli(['--server', gw.url, '--token', AGENT_TOKEN]);
      await waitFor('hello', () => gw.current?.hello, 15_000);
      agent.child.kill('SIGTERM');
      const { code, stderr } = await agent.exited;
      expect(code).toBe(0);
      expect(stderr).toMatch(/^vmo-agent: --token puts the token on the command line, where every user of this machine can read it \(ps\); use --token-file or VMO_AGENT_TOKEN_FILE\n/);
      expect(stderr).not.toContain(AGENT_TOKEN);
    } finally {
      await gw.close();
    }
  });

  it.each([
    ['a missing file', ['--token-file', join(dir, 'missing')], {}, /^vmo-agent: invalid configuration: --token-file: cannot read .*missing \(ENOENT\)\n$/],
    ['a file with something else in it', ['--token-file', 'BAD'], {}, /^vmo-agent: invalid configuration: --token-file: must be an agent token \(vmo_agt_…\)\n$/],
    ['both flags', ['--token', AGENT_TOKEN, '--token-file', 'GOOD'], {}, /^vmo-agent: invalid configuration: --token and --token-file are both given; use --token-file\n$/],
    ['both variables', [], { VMO_AGENT_TOKEN: AGENT_TOKEN, VMO_AGENT_TOKEN_FILE: 'GOOD' }, /^vmo-agent: invalid configuration: VMO_AGENT_TOKEN_FILE: VMO_AGENT_TOKEN and VMO_AGENT_TOKEN_FILE are both set; set only one\n$/],
    ['no token at all', [], {}, /^vmo-agent: invalid configuration: VMO_AGENT_TOKEN: is required: give --token-file FILE \(or VMO_AGENT_TOKEN_FILE\), or --state-dir DIR with --enrol-file FILE to enrol\n$/],
    ['an admin token by mistake', ['--token', 'vmo_adm_0123456789abcdef0123456789abcdef'], {}, /^vmo-agent: invalid configuration: --token: must be an agent token \(vmo_agt_…\)\n$/],
  ])('%s: exit 78 with one line, no token in it', async (_what, args, env, message) => {
    const files = { BAD: tokenFile('bad', 'vmo_adm_secretsecretsecret\n'), GOOD: tokenFile('good', AGENT_TOKEN) } as Record<string, string>;
    const resolved = args.map((a) => files[a] ?? a);
    const resolvedEnv = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, files[v] ?? v]));
    const { code, stderr } = await runCli(['--server', 'http://127.0.0.1:1', ...resolved], resolvedEnv).exited;
    expect(code).toBe(78);
    expect(stderr).toMatch(message);
    expect(stderr).not.toContain('secretsecret');
    expect(stderr).not.toContain(AGENT_TOKEN);
  });

  it('takes the token variables out of process.env once read', () => {
    const saved = { ...process.env };
    try {
      process.env.VMO_SERVER = 'http://127.0.0.1:1';
      process.env.VMO_AGENT_TOKEN_FILE = tokenFile('scrub', AGENT_TOKEN);
      const config = loadAgentConfig([], process.env, () => {});
      expect(config).toMatchObject({ token: AGENT_TOKEN });
      expect(process.env.VMO_AGENT_TOKEN_FILE).toBeUndefined();
      expect(process.env.VMO_AGENT_TOKEN).toBeUndefined();
      expect(process.env.VMO_SERVER).toBe('http://127.0.0.1:1');
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
