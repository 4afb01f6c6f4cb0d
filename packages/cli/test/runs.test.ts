/**
 * Issue 12: `vmo runs ls|show` (and `vmo jobs ls --run/--target` over a run's children) against the
 * real stack: an API, a worker and two real agents; two fleet runs over them, one succeeded and one
 * failed (its first child exits 3, the other prints ok). The real CLI as a child process: --json is
 * what the API answers, --status and --limit, aligned tables, show with the summary's groups, and an
 * unknown run the API's not_found with exit 70.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';
import type { Job, Run, RunListItem } from '@vmo/shared/api';
import { runCli, startAgent, useBundle } from './run-cli.ts';

// Deadlines for a loaded machine (2 cores, many suites at once), not measures.
describe('vmo runs (real stack)', { timeout: 300_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let bundle: string;
  let env: Record<string, string>;
  let passed: Run;
  let failed: Run;
  let listed: RunListItem[];

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_runs' }), useBundle()]);
    await Promise.all([startAgent(system, 'fleet-a', { fleet: 'cli-runs' }), startAgent(system, 'fleet-b', { fleet: 'cli-runs' })]);
    dir = mkdtempSync(join(tmpdir(), 'vmo-runs-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(dir, 'xdg') };
    const submit = (command: string) => system.client.vmo.runs.submit({ command, targets: { selector: 'fleet=cli-runs' }, strategy: { maxConcurrency: 1 } });
    const first = await submit('echo hi');
    // One child at a time: the first to run makes the directory and fails, the other prints ok.
    const second = await submit(`mkdir '${join(dir, 'first')}' 2>/dev/null && { echo first; exit 3; } || echo ok`);
    const ended = await waitFor(
      'both runs to end',
      async () => {
        const runs = await Promise.all([first.id, second.id].map((id) => system.client.vmo.runs.get(id)));
        return runs.every((r) => r.finishedAt !== null) ? runs : undefined;
      },
      240_000,
      250,
    );
    [passed, failed] = [ended[0]!, ended[1]!];
    expect([passed.status, failed.status]).toEqual(['succeeded', 'failed']);
    listed = (await system.client.vmo.runs.list()).items;
    expect(listed.map((r) => r.id)).toEqual([failed.id, passed.id]);
  }, 300_000);
  afterAll(async () => {
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  const vmo = (args: string[]) => runCli(args, { env, cwd: dir, timeoutMs: 240_000 });
  const json = <T>(r: { code: number | null; stdout: Buffer; stderr: Buffer }) => {
    expect(r.code, r.stderr.toString()).toBe(0);
    return JSON.parse(r.stdout.toString()) as T;
  };

  it('ls --json is the runs as GET /v1/runs lists them, newest first; --status filters; --limit caps', async () => {
    expect(json(await vmo(['runs', 'ls', '--json']))).toEqual(listed);
    expect(json(await vmo(['runs', 'ls', '--status', 'failed', '--json']))).toEqual([listed[0]]);

    const one = await vmo(['runs', 'ls', '--limit', '1']);
    expect(one.code, one.stderr.toString()).toBe(0);
    const lines = one.stdout.toString().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +STATUS +TARGETS +CREATED +DURATION +COMMAND$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(new RegExp(`^${failed.id} +failed +2 +\\d+[smhd] ago +\\S+ +mkdir `));
    expect(one.stderr.toString()).toContain('the 1 newest; --limit N or --all for more');
    expect(one.stdout.toString()).not.toContain('\x1b['); // a pipe: no colour
  });

  it('-o wide adds what was asked for, the strategy, the error and the creator, aligned', async () => {
    const r = await vmo(['runs', 'ls', '-o', 'wide']);
    expect(r.code, r.stderr.toString()).toBe(0);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +STATUS +TARGETS +CREATED +DURATION +ASKED FOR +STRATEGY +ERROR +CREATOR +COMMAND$/);
    expect(lines[2]).toMatch(new RegExp(`^${passed.id} +succeeded +2 +.* selector fleet=cli-runs +concurrency 1, max errors none, no canary +- +.* echo hi$`));
    for (const header of ['STATUS', 'TARGETS', 'ASKED FOR', 'STRATEGY', 'COMMAND']) {
      const at = lines[0]!.indexOf(header);
      for (const line of lines.slice(1)) expect([line[at - 1], line[at] !== ' '], `${header} in ${line}`).toEqual([' ', true]);
    }
  });

  it('show prints the run, its counts and progress, and the summary: status and exit code → targets, each output', async () => {
    const summary = await system.client.vmo.runs.summary(failed.id);
    const byStatus = Object.fromEntries(summary.groups.map((g) => [g.status, g]));
    const [loser] = byStatus.failed!.outputs[0]!.targets;
    const [winner] = byStatus.succeeded!.outputs[0]!.targets;
    expect([loser, winner].sort()).toEqual(['fleet-a', 'fleet-b']);

    const r = await vmo(['runs', 'show', failed.id]);
    expect(r.code, r.stderr.toString()).toBe(0);
    const text = r.stdout.toString();
    for (const line of [
      `ID: +${failed.id}`,
      'Status: +failed',
      'Command: +mkdir ',
      'Targets: +2: selector fleet=cli-runs',
      'Progress: +2/2 done',
      'Counts: +succeeded 1, failed 1',
      'Strategy: +concurrency 1, max errors none, no canary',
      'Started: +\\d{4}-',
      'Finished: +\\d{4}-',
      'Duration: +\\d',
      'Results:',
      `  failed +exit 3 +1  ${loser}$`,
      '      1× "first" \\(6 B\\)',
      `  succeeded +exit 0 +1  ${winner}$`,
      '      1× "ok" \\(3 B\\)',
    ]) {
      expect(text).toMatch(new RegExp(`^${line}`, 'm'));
    }
    expect(text).not.toContain('\x1b[');
  });

  it('show --json is the run as GET /v1/runs/{id} answers it, with its summary', async () => {
    const { summary, ...run } = json<Run & { summary: unknown }>(await vmo(['runs', 'show', failed.id, '--json']));
    expect(run).toEqual(await system.client.vmo.runs.get(failed.id));
    expect(summary).toEqual(await system.client.vmo.runs.summary(failed.id));
  });

  it('jobs ls --run lists the run\'s children, --target the jobs on one agent', async () => {
    const children = json<Job[]>(await vmo(['jobs', 'ls', '--run', failed.id, '--json']));
    expect(children).toEqual((await system.client.vmo.jobs.list({ run: failed.id })).items);
    expect(children.map((j) => [j.runId, j.targetKind, j.status]).sort()).toEqual([
      [failed.id, 'agent', 'failed'],
      [failed.id, 'agent', 'succeeded'],
    ]);
    const onA = await vmo(['jobs', 'ls', '--target', 'fleet-a', '-o', 'wide']);
    expect(onA.code, onA.stderr.toString()).toBe(0);
    const rows = onA.stdout.toString().trimEnd().split('\n').slice(1);
    expect(rows).toHaveLength(2); // one child of each run
    for (const row of rows) expect(row).toMatch(/^job_\S+ +(succeeded|failed) +[03] +agent:fleet-a +.* run_[0-9a-z]{20} /);
  });

  it('an unknown run is the API\'s not_found on stderr, exit 70', async () => {
    const r = await vmo(['runs', 'show', 'run_00000000000000000000']);
    expect(r.code).toBe(70);
    expect(r.stderr.toString()).toMatch(/^vmo: not_found: /m);
    expect(r.stdout.toString()).toBe('');
  });
});
