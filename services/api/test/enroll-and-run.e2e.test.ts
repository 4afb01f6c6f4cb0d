/**
 * Issue 8 #14: the compose agent (services/agent/deploy/enroll-and-run.mjs). Enrolling writes the
 * agent token to a file of mode 0600; the agent then runs from that file, with neither the admin
 * token nor the agent token in its arguments or its environment.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = 'services/agent/deploy/enroll-and-run.mjs';

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [SCRIPT, ...args], { cwd: ROOT, env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe('enroll-and-run (the compose agent)', () => {
  let system: TestSystem;
  let dir: string;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'enroll' });
    dir = mkdtempSync(join(tmpdir(), 'vmo-enroll-'));
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enrolls into a 0600 token file, then runs the agent from it with no token in argv or environment', async () => {
    const adminFile = join(dir, 'admin-token');
    writeFileSync(adminFile, `${system.token}\n`, { mode: 0o600 });
    const tokenFile = join(dir, 'state', 'token');
    const common = { VMO_SERVER: system.apiUrls[0]!, VMO_AGENT_NAME: 'compose-agent', VMO_AGENT_TOKEN_FILE: tokenFile };

    const enroll = run(['--enroll-only'], { ...common, VMO_ADMIN_TOKEN_FILE: adminFile });
    expect(await enroll.exited, enroll.output()).toBe(0);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const agentToken = readFileSync(tokenFile, 'utf8').trim();
    expect(agentToken).toMatch(/^vmo_agt_/);
    expect(enroll.output()).not.toContain(agentToken);
    expect(enroll.output()).not.toContain(system.token);

    // The agent container: no admin token at all.
    const agent = run([], common);
    try {
      const listed = await waitFor('the agent online', async () => {
        const res = await system.client.request('GET', '/v1/agents/compose-agent');
        return res.body?.status === 'online' ? res.body : undefined;
      }, 30_000).catch((err) => {
        throw new Error(`${(err as Error).message}; output:\n${agent.output()}`);
      });
      const job = await system.client.submit({ command: 'echo from compose', target: { type: 'agent', agent: listed.id } });
      expect((await system.client.waitForEnd(job.id)).status).toBe('succeeded');
      const pids = [agent.child.pid!, ...execFileSync('pgrep', ['-P', String(agent.child.pid)], { encoding: 'utf8' }).trim().split('\n').map(Number)];
      expect(pids.length).toBe(2); // the script and the agent it started
      for (const pid of pids) {
        const seen = readFileSync(`/proc/${pid}/cmdline`, 'utf8') + readFileSync(`/proc/${pid}/environ`, 'utf8');
        expect(seen).not.toContain(agentToken);
        expect(seen).not.toContain(system.token);
      }
    } finally {
      agent.child.kill('SIGTERM');
      expect(await agent.exited, agent.output()).toBe(0);
    }
    expect(agent.output()).not.toContain(agentToken);
  });
});
