import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startAgentUnderTest } from './agent-fixture.ts';
import { AGENT_TOKEN, FakeGateway } from './fake-gateway.ts';
import { newJobId, runMessage } from './messages.ts';
import { livePidsInGroup } from './process-group.ts';
import { waitFor } from './wait-for.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** The CLI as a real child process (through tsx), with its exit code and stderr. */
function runCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', mainTs, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH!, VMO_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, exited };
}

describe('§7 shutdown', () => {
  it('close 4401 (token revoked): stops for good, kills its jobs, reports fatal', async () => {
    const { gw, agent, fatal } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'sleep 1000 & sleep 1000; wait'));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    gw.current!.ws.close(4401, 'token revoked');
    await waitFor('fatal', () => fatal.length > 0);
    expect(fatal[0]).toMatch(/4401/);
    expect(agent.state).toBe('stopped');
    await waitFor('no process left in the group', () => livePidsInGroup(pid!).length === 0);
    expect(gw.upgrades).toBe(1);
  });

  it('stop(): takes no new run, lets running jobs finish, flushes, then closes 1000', async () => {
    const { gw, agent } = await startAgentUnderTest({ agent: { drainMs: 10_000 } });
    await waitFor('hello', () => gw.current?.hello);
    const dir = mkdtempSync(join(tmpdir(), 'vmo-agent-test-'));
    const jobId = newJobId();
    gw.send(runMessage(jobId, `while [ ! -e ${dir}/go ]; do sleep 0.01; done; echo finished`));
    await waitFor('started', () => gw.received('started', jobId)[0]);

    const stopped = agent.stop();
    const late = newJobId();
    gw.send(runMessage(late, 'echo should-not-run'));
    writeFileSync(join(dir, 'go'), '');
    await stopped;
    expect(gw.exitOf(jobId)).toMatchObject({ exitCode: 0 });
    expect(gw.output(jobId, 1).toString()).toBe('finished\n');
    expect(gw.connections[0]!.closed ?? (await waitFor('close', () => gw.connections[0]!.closed))).toMatchObject({ code: 1000 });
    expect(gw.received('started', late)).toEqual([]);
    expect(agent.state).toBe('stopped');
  });

  it('stop(): past the drain time, cancels what is left and still reports its exit', async () => {
    const { gw, agent } = await startAgentUnderTest({ agent: { drainMs: 100 } });
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, 'sleep 1000'));
    const { pid } = await waitFor('started', () => gw.received('started', jobId)[0]);
    await agent.stop();
    expect(gw.exitOf(jobId)).toMatchObject({ signal: 'SIGTERM' });
    expect(livePidsInGroup(pid!)).toEqual([]);
    expect((await waitFor('close', () => gw.connections[0]!.closed)).code).toBe(1000);
  });

  it('CLI: SIGTERM drains and exits 0; a refused token exits 2 with one line; bad config exits 78', async () => {
    const gw = await FakeGateway.start();
    try {
      const ok = runCli(['--server', gw.url, '--token', AGENT_TOKEN]);
      await waitFor('hello from the CLI agent', () => gw.current?.hello, 10_000);
      ok.child.kill('SIGTERM');
      expect((await ok.exited).code).toBe(0);
      expect((await waitFor('close', () => gw.connections[0]!.closed)).code).toBe(1000);

      const refused = await runCli(['--server', gw.url], { VMO_AGENT_TOKEN: 'vmo_agt_unknown' }).exited;
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^vmo-agent: .*HTTP 401.*\n$/m);

      const bad = await runCli(['--server', gw.url, '--token', AGENT_TOKEN, '--buffer-bytes', '12']).exited;
      expect(bad.code).toBe(78);
      expect(bad.stderr).toBe('vmo-agent: invalid configuration: --buffer-bytes: must be ≥ 131072 (got "12")\n');
    } finally {
      await gw.close();
    }
  });
});
