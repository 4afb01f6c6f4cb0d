/**
 * vmo in a terminal and out of one, the real CLI against a real system with two agents: the fleet
 * run's progress bar and summary (a bar on a terminal only), `--stream`'s prefixed lines, colour
 * only on a terminal and never with NO_COLOR, and Ctrl-C typed into a pseudo-terminal: the first
 * cancels the job (canceled in the API, exit 130), the second detaches (exit 75: the job goes on).
 * And a fleet run whose summary cannot be made exits with the run's status, not vmo's 70.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';
import { VmoApiError, VmoClient } from '@vmo/client';
import { runFleet } from '../src/fleet/run-fleet.ts';
import { CLI_BIN, runCli, startCliInPty, startAgent, useBundle } from './run-cli.ts';

// Each case runs vmo several times: deadlines for a loaded machine, not measures.
describe('vmo on a terminal (real system, two agents)', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let scratch: string;
  let env: Record<string, string>;
  let bundle: string;

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_tty' }), useBundle()]);
    await Promise.all([startAgent(system, 'cli-a', { fleet: 'cli' }), startAgent(system, 'cli-b', { fleet: 'cli' })]);
    scratch = mkdtempSync(join(tmpdir(), 'vmo-cli-tty-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(scratch, 'config') };
  }, 240_000); // a loaded machine starts processes slowly: a deadline, not a measure
  afterAll(async () => {
    await system?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  const latestJob = async () => (await system.client.vmo.jobs.list({ limit: 1 })).items[0]!;

  it('a fleet run on a terminal: a progress bar redrawn in place, then the summary in colour; exit 0', async () => {
    const r = await startCliInPty(['run', '--selector', 'fleet=cli', '--max-concurrency', '1', '--', 'sh', '-c', 'sleep 0.5; echo hi'], { env }).done;
    expect(r.code).toBe(0);
    // The bar: redrawn on one line (\r + erase line), ending at 2/2.
    expect(r.output).toContain('\r\x1b[2K[');
    expect(r.output).toMatch(/0\/2 done/);
    expect(r.output).toMatch(/2\/2 done · 0 failed · 0 running/);
    // The summary, coloured on a terminal.
    expect(r.output).toMatch(/run_[0-9a-z]{20}\x1b\[22m \x1b\[32msucceeded\x1b\[39m: 2 of 2 succeeded/);
    expect(r.output).toMatch(/exit 0 +2 {2}cli-a, cli-b/);
    expect(r.output).toContain('2× "hi" (3 B)');
  });

  it('a fleet run into pipes: no bar, no colour; --stream prefixes each line with its target; exit 1 when a child fails', async () => {
    const ok = await runCli(['run', '-l', 'fleet=cli', '--stream', '--', 'sh', '-c', 'echo one; printf two; echo warn >&2'], { env });
    expect(ok.code).toBe(0);
    const lines = ok.stdout.toString().split('\n').filter(Boolean).sort();
    expect(lines).toEqual(['[cli-a] one', '[cli-a] two', '[cli-b] one', '[cli-b] two']);
    const err = ok.stderr.toString();
    expect(err).toContain('[cli-a] warn\n');
    expect(err).toContain('[cli-b] warn\n');
    expect(err).not.toMatch(/\r|█|\x1b\[/);
    expect(err).toMatch(/succeeded: 2 of 2 succeeded/); // the summary, on stderr with --stream

    const failed = await runCli(['run', '-l', 'fleet=cli', '--', 'sh', '-c', 'exit 4'], { env });
    expect(failed.code).toBe(1);
    expect(failed.stdout.toString()).toMatch(/failed: 0 of 2 succeeded\n +failed +exit 4 +2 {2}cli-a, cli-b/);
    expect(failed.stderr.toString()).toBe('');
  });

  it('Ctrl-C cancels the job and waits for its end: canceled in the API, exit 130', async () => {
    // The repository's bin (tsx's loader in the same process: Ctrl-C must reach vmo through it).
    const pty = startCliInPty(['run', '--on', 'agent:cli-a', '--', 'sh', '-c', 'echo started; sleep 60'], { env, script: CLI_BIN });
    await waitFor('the job to start', () => pty.output().includes('started'), 30_000);
    pty.write('\x03');
    const r = await pty.done;
    expect(r.output).toContain('canceling… (Ctrl-C again to detach)');
    expect(r.code).toBe(130);
    expect((await latestJob()).status).toBe('canceled');
  });

  it('a second Ctrl-C detaches: prints the job id and exits 75 (not 130: the job was not canceled), the job carries on to its cancel', async () => {
    // TERM is ignored by the job's shell (one argument: the shell line itself, no outer shell to
    // die of it), so the cancel waits out its grace: time for the second Ctrl-C.
    const pty = startCliInPty(['run', '--', 'trap "" TERM; echo started; while :; do sleep 0.2; done'], { env });
    await waitFor('the job to start', () => pty.output().includes('started'), 30_000);
    const job = await latestJob();
    pty.write('\x03');
    await waitFor('the cancel', () => pty.output().includes('canceling…'), 30_000);
    pty.write('\x03');
    const r = await pty.done;
    expect(r.code).toBe(75);
    expect(r.output).toContain(`detached; the job goes on: ${job.id}`);
    expect((await system.client.job(job.id)).status).toBe('running');
    await system.client.waitForStatus(job.id, 'canceled', 60_000);
  });

  it('a summary that fails after the run ended (503 summary_timeout) is left out: the exit status is the run\'s, not 70', async () => {
    // In-process (runFleet, what `vmo run --selector` calls) against the real system; only the summary
    // answer is stood in for: the server's 503 comes from a time limit a test cannot shorten.
    const client = new VmoClient({ baseUrl: system.apiUrls[0]!, token: system.token });
    client.runs.summary = async () => {
      throw new VmoApiError(503, 'summary_timeout', "the run's summary was not ready within its time limit");
    };
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
    const request = (command: string) => ({ command, targets: { selector: 'fleet=cli' }, env: {}, strategy: {} });
    let ok: number;
    let failed: number;
    try {
      ok = await runFleet(client, request('true'), { detach: false, stream: false });
      failed = await runFleet(client, request('exit 3'), { detach: false, stream: false });
    } finally {
      process.stderr.write = write;
    }
    expect([ok, failed]).toEqual([0, 1]);
    expect(written.join('')).toMatch(/^summary unavailable: summary_timeout \(vmo runs show run_\w+ tries again\)\n/);
  });

  it('colours errors on a terminal only, and never with NO_COLOR', async () => {
    const args = ['run', '--on', 'agent:nobody', '--', 'true'];
    const tty = await startCliInPty(args, { env }).done;
    expect(tty.code).toBe(70);
    expect(tty.output).toContain('\x1b[31mvmo: unknown_agent:\x1b[39m');
    const noColor = await startCliInPty(args, { env: { ...env, NO_COLOR: '1' } }).done;
    expect(noColor.output).toContain('vmo: unknown_agent:');
    expect(noColor.output).not.toContain('\x1b[');
  });
});
