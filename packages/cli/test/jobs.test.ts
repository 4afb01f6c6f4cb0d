/**
 * Issue 12: `vmo jobs ls|show` against the real stack (API, a worker, local jobs), the real CLI as
 * a child process: --json is what GET /v1/jobs lists, --status filters, --limit caps and --all walks
 * the pages, tables aligned (colour only on a terminal without NO_COLOR), show's fields, and an
 * unknown job the API's not_found with exit 70.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';
import type { Job } from '@vmo/shared/api';
import { CLI_BIN, runCli, startCliInPty, useBundle } from './run-cli.ts';

// Deadlines for a loaded machine (2 cores, many suites at once), not measures.
describe('vmo jobs (real stack)', { timeout: 300_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let bundle: string;
  let env: Record<string, string>;
  let ok: Job;
  let failing: Job;
  /** Every job of the system, newest first, as the API lists it. */
  let listed: Job[];

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_jobs' }), useBundle()]);
    dir = mkdtempSync(join(tmpdir(), 'vmo-jobs-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(dir, 'xdg') };
    const submit = (command: string) => system.client.vmo.jobs.submit({ command, target: { type: 'local' }, labels: { suite: 'cli-jobs' } });
    // Oldest first: the failing one is the newest.
    const ids: string[] = [];
    for (const command of ['echo one', 'echo two', 'echo three', 'echo ok', 'echo oops >&2; exit 3']) ids.push((await submit(command)).id);
    const ended = await waitFor(
      'the five jobs to end',
      async () => {
        const jobs = await Promise.all(ids.map((id) => system.client.vmo.jobs.get(id)));
        return jobs.every((j) => j.finishedAt !== null) ? jobs : undefined;
      },
      180_000,
      250,
    );
    ok = ended[3]!;
    failing = ended[4]!;
    expect([ok.status, failing.status, failing.exitCode]).toEqual(['succeeded', 'failed', 3]);
    listed = (await system.client.vmo.jobs.list({ limit: 500 })).items;
    expect(listed.map((j) => j.id)).toEqual([...ids].reverse());
  }, 300_000);
  afterAll(async () => {
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  const vmo = (args: string[], opts: { extra?: Record<string, string>; script?: string } = {}) =>
    runCli(args, { env: { ...env, ...opts.extra }, cwd: dir, timeoutMs: 240_000, ...(opts.script ? { script: opts.script } : {}) });
  /** A value as a literal part of a RegExp. */
  const re = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const json = (r: { code: number | null; stdout: Buffer; stderr: Buffer }) => {
    expect(r.code, r.stderr.toString()).toBe(0);
    return JSON.parse(r.stdout.toString()) as Job[];
  };

  it('ls --json is one JSON document: the jobs as GET /v1/jobs lists them, newest first; --status filters', async () => {
    expect(json(await vmo(['jobs', 'ls', '--json']))).toEqual(listed);
    const failed = json(await vmo(['jobs', 'ls', '--status', 'failed', '-o', 'json']));
    expect(failed).toEqual([failing]);
    expect(failed).toEqual((await system.client.vmo.jobs.list({ status: 'failed' })).items);
    // A status the API does not know: its 400, named, on stderr.
    const bad = await vmo(['jobs', 'ls', '--status', 'done']);
    expect(bad.code).toBe(70);
    expect(bad.stderr.toString()).toMatch(/^vmo: validation_failed: .*status/m);
    expect(bad.stdout.toString()).toBe('');
  });

  it('--limit caps the rows (saying on stderr that there are more); --all walks every page of the cursor', async () => {
    const two = await vmo(['jobs', 'ls', '--limit', '2']);
    expect(two.code, two.stderr.toString()).toBe(0);
    const lines = two.stdout.toString().trimEnd().split('\n');
    expect(lines.slice(1).map((l) => l.split(/ +/)[0])).toEqual(listed.slice(0, 2).map((j) => j.id));
    expect(two.stderr.toString()).toContain('the 2 newest; --limit N or --all for more');

    expect(json(await vmo(['jobs', 'ls', '--all', '--json']))).toEqual(listed);
    const both = await vmo(['jobs', 'ls', '--all', '--limit', '3']);
    expect(both.code).toBe(2);
    expect(both.stderr.toString()).toContain('--all and --limit');

    // The walk itself, through the real API with pages of 2: every job once, in order.
    const { fetchRows } = await import('../src/commands/jobs.ts');
    const pages: number[] = [];
    const walked = await fetchRows({ all: true }, async (q) => {
      const page = await system.client.vmo.jobs.list(q);
      pages.push(page.items.length);
      return page;
    }, 2);
    expect(walked).toEqual({ rows: listed, more: false });
    expect(pages).toEqual([2, 2, 1]);
    const capped = await fetchRows({ limit: 3 }, (q) => system.client.vmo.jobs.list(q), 2);
    expect(capped).toEqual({ rows: listed.slice(0, 3), more: true });
  });

  it('ls prints an aligned table (id, status, exit, target, created, duration, command); -o wide adds run, creator, output, labels', async () => {
    const r = await vmo(['jobs', 'ls']);
    expect(r.code, r.stderr.toString()).toBe(0);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +STATUS +EXIT +TARGET +CREATED +DURATION +COMMAND$/);
    expect(lines).toHaveLength(listed.length + 1);
    expect(lines[1]).toMatch(new RegExp(`^${failing.id} +failed +3 +local +\\d+[smhd] ago +\\S+ +echo oops >&2; exit 3$`));
    expect(lines.find((l) => l.startsWith(ok.id))).toMatch(new RegExp(`^${ok.id} +succeeded +0 +local +.* echo ok$`));
    // Aligned: every column starts where its header does.
    for (const header of ['STATUS', 'EXIT', 'TARGET', 'COMMAND']) {
      const at = lines[0]!.indexOf(header);
      for (const line of lines.slice(1)) expect(line[at - 1], `${header} in ${line}`).toBe(' ');
      for (const line of lines.slice(1)) expect(line[at], `${header} in ${line}`).not.toBe(' ');
    }
    expect(r.stdout.toString()).not.toContain('\x1b['); // a pipe: no colour

    const wide = await vmo(['jobs', 'ls', '-o', 'wide', '--status', 'failed']);
    const wideLines = wide.stdout.toString().trimEnd().split('\n');
    expect(wideLines[0]).toMatch(/^ID +STATUS +EXIT +TARGET +CREATED +DURATION +RUN +CREATOR +OUTPUT +LABELS +COMMAND$/);
    expect(wideLines[1]).toMatch(new RegExp(`^${failing.id} +failed +3 +local .* - +${re(failing.createdBy ?? "-")} +5 B +suite=cli-jobs +echo oops >&2; exit 3$`));
  });

  it('colours the status on a terminal, and not with NO_COLOR', async () => {
    const tty = await startCliInPty(['jobs', 'ls'], { env, script: bundle }).done;
    expect(tty.code).toBe(0);
    expect(tty.output).toContain('\x1b[31mfailed\x1b[39m');
    expect(tty.output).toContain('\x1b[32msucceeded\x1b[39m');
    const plain = await startCliInPty(['jobs', 'ls'], { env: { ...env, NO_COLOR: '1' }, script: bundle }).done;
    expect(plain.output).toContain(failing.id);
    expect(plain.output).not.toContain('\x1b[');
  });

  it('show prints the job\'s fields; --json is the job as GET /v1/jobs/{id} answers it', async () => {
    const r = await vmo(['jobs', 'show', failing.id]);
    expect(r.code, r.stderr.toString()).toBe(0);
    const text = r.stdout.toString();
    for (const line of [
      `ID: +${failing.id}`,
      'Status: +failed',
      'Target: +local',
      'Command: +echo oops >&2; exit 3',
      'Exit: +exit code 3',
      `Created: +${re(failing.createdAt)} \\(\\d+[smhd] ago\\)`,
      `Started: +${re(failing.startedAt!)} `,
      `Finished: +${re(failing.finishedAt!)} `,
      'Duration: +\\d+(ms|\\.\\ds)',
      'Run: +-',
      `Creator: +${re(failing.createdBy ?? "-")}`,
    ]) {
      expect(text).toMatch(new RegExp(`^${line}`, 'm'));
    }
    expect(json(await vmo(['jobs', 'show', ok.id, '--json']))).toEqual(await system.client.vmo.jobs.get(ok.id));
  });

  it('an unknown job is the API\'s not_found on stderr, exit 70 (the repository\'s bin)', async () => {
    const r = await vmo(['jobs', 'show', 'job_00000000000000000000'], { script: CLI_BIN });
    expect(r.code).toBe(70);
    expect(r.stderr.toString()).toMatch(/^vmo: not_found: /m);
    expect(r.stdout.toString()).toBe('');
  });

  it('--help of each command has an example', async () => {
    // In-process: a Node process per help text would take minutes on a loaded machine.
    const { Command } = await import('commander');
    const { registerJobs } = await import('../src/commands/jobs.ts');
    const { registerRuns } = await import('../src/commands/runs.ts');
    const { registerCompletion } = await import('../src/commands/completion.ts');
    const program = new Command('vmo');
    registerJobs(program);
    registerRuns(program);
    registerCompletion(program);
    const all = (cmd: InstanceType<typeof Command>): InstanceType<typeof Command>[] => [cmd, ...cmd.commands.flatMap(all)];
    const commands = program.commands.flatMap(all);
    expect(commands.map((c) => c.name()).sort()).toEqual(['completion', 'jobs', 'ls', 'ls', 'runs', 'show', 'show']);
    for (const cmd of commands) {
      let text = '';
      cmd.configureOutput({ writeOut: (t) => (text += t) });
      cmd.outputHelp();
      expect(text, cmd.name()).toMatch(/Examples:\n {2}(vmo |source <\(vmo )/);
    }
  });
});
