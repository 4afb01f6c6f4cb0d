/**
 * Issue 14: `vmo schedules add|ls|show|trigger|pause|resume|rm` against the real stack (an API, a
 * worker whose scheduler fires the ticks, a real agent web-1). The real CLI as a child process: a
 * job schedule every 2 s on web-1 and a paused fleet-run schedule made from the command line (a bad
 * cron is the API's message, exit 70; --on with --selector is bad usage, exit 2); a tick's
 * succeeded job shown by `show`; `ls` aligned and `--json` as the API lists; a trigger prints the
 * job it made; pause and resume by name; rm by name and by id.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';
import type { Schedule } from '@vmo/shared/api';
import { runCli, startAgent, useBundle, type CliResult } from './run-cli.ts';

// Deadlines for a loaded machine, not measures.
describe('vmo schedules (real stack)', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let bundle: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_schedules' }), useBundle()]);
    await startAgent(system, 'web-1', { role: 'web' });
    dir = mkdtempSync(join(tmpdir(), 'vmo-schedules-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(dir, 'xdg') };
  }, 180_000);
  afterAll(async () => {
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  const vmo = (args: string[]) => runCli(args, { env, cwd: dir, timeoutMs: 60_000 });
  const ok = (r: CliResult) => {
    expect(r.code, r.stderr.toString()).toBe(0);
    return r.stdout.toString();
  };

  it('adds, lists, shows, triggers, pauses, resumes and removes schedules', async () => {
    const api = system.client.vmo;

    const bad = await vmo(['schedules', 'add', 'bad', '--cron', '61 * * * *', '--on', 'agent:web-1', '--', 'true']);
    expect(bad.code).toBe(70);
    expect(bad.stderr.toString()).toBe('vmo: validation_failed: cron: Invalid value for minute: 61\n');
    const both = await vmo(['schedules', 'add', 'both', '--cron', '* * * * *', '--on', 'agent:web-1', '--selector', 'role=web', '--', 'true']);
    expect(both.code).toBe(2);
    expect(both.stderr.toString()).toContain('--on and --selector: give one');

    const added = ok(await vmo(['schedules', 'add', 'every-two', '--cron', '*/2 * * * * *', '--tz', 'Europe/Berlin', '--on', 'agent:web-1', '-e', 'WHO=vmo', '--', 'echo "tick from $WHO"']));
    expect(added).toMatch(/^every-two \(sch_[0-9a-z]{20}\): created; next fire \d{4}-\d\d-\d\dT[\d:.]+Z \((now|in \ds)\)\n$/);
    const everyTwo = (await api.schedules.list()).items.find((s) => s.name === 'every-two')!;
    expect(everyTwo).toMatchObject({ cron: '*/2 * * * * *', timezone: 'Europe/Berlin', overlap: 'skip', job: { command: 'echo "tick from $WHO"', target: { type: 'agent', agent: 'web-1' }, env: { WHO: 'vmo' } } });

    const fleet = JSON.parse(ok(await vmo(['schedules', 'add', 'fleet-uptime', '--cron', '30 2 * * *', '--selector', 'role=web', '--max-concurrency', '50%', '--overlap', 'cancel_previous', '--catch-up', 'latest', '--paused', '--json', '--', 'uptime']))) as Schedule;
    expect(fleet).toMatchObject({ name: 'fleet-uptime', paused: true, overlap: 'cancel_previous', catchUp: 'latest', nextFires: [], job: null, run: { command: 'uptime', targets: { selector: 'role=web' }, strategy: { maxConcurrency: '50%' } } });

    // A tick fires on web-1.
    const firedJob = await waitFor('a tick\'s job to succeed', async () => (await api.schedules.get(everyTwo.id)).lastFires.find((f) => f.kind === 'tick' && f.status === 'succeeded')?.jobId ?? undefined, 45_000, 200);
    expect((await system.client.logs(firedJob)).toString()).toBe('tick from vmo\n');

    const ls = ok(await vmo(['schedules', 'ls'])).trimEnd().split('\n');
    expect(ls[0]).toMatch(/^ID +NAME +CRON +TZ +NEXT +LAST +TARGET +COMMAND$/);
    expect(ls[1]).toMatch(new RegExp(`^${fleet.id} +fleet-uptime +30 2 \\* \\* \\* +UTC +paused +- +selector role=web +uptime$`));
    expect(ls[2]).toMatch(new RegExp(`^${everyTwo.id} +every-two +\\*/2 \\* \\* \\* \\* \\* +Europe/Berlin +(now|in \\ds) +[a-z_]+ \\d+s ago +agent:web-1 +echo "tick from \\$WHO"$`));
    const listed = JSON.parse(ok(await vmo(['schedules', 'ls', '--json']))) as Schedule[];
    expect(listed.map((s) => [s.id, s.name])).toEqual([[fleet.id, 'fleet-uptime'], [everyTwo.id, 'every-two']]);

    // show, by name: the next five fires in its zone, the last fires with their jobs.
    const shown = ok(await vmo(['schedules', 'show', 'every-two']));
    expect(shown).toMatch(/^ID: +sch_/);
    expect(shown).toContain('Cron:      */2 * * * * * (Europe/Berlin)\n');
    expect(shown).toContain('Runs:      a job on agent:web-1\n');
    const next = shown.split('Next fires:\n')[1]!.split('\n\n')[0]!.split('\n');
    expect(next).toHaveLength(5);
    expect(next[0]).toMatch(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Europe\/Berlin {2}\(\d{4}-.*Z, (now|in \ds)\)$/);
    expect(shown.split('Last fires:\n')[1]).toMatch(/^AT +KIND +STATUS +MADE +REASON\n/);
    expect(shown).toContain(firedJob);

    // trigger: the job it made, which runs.
    const triggered = ok(await vmo(['schedules', 'trigger', 'every-two']));
    const jobId = /^fired job (job_[0-9a-z]{20}) \(vmo logs -f \1\)\n$/.exec(triggered)?.[1];
    expect(jobId, triggered).toBeDefined();
    expect((await system.client.waitForEnd(jobId!, 45_000)).status).toBe('succeeded');
    expect((await api.schedules.get(everyTwo.id)).lastFires.some((f) => f.kind === 'trigger' && f.jobId === jobId)).toBe(true);

    expect(ok(await vmo(['schedules', 'pause', 'every-two']))).toBe(`every-two (${everyTwo.id}): paused\n`);
    expect((await api.schedules.get(everyTwo.id)).paused).toBe(true);
    expect(ok(await vmo(['schedules', 'resume', everyTwo.id]))).toMatch(new RegExp(`^every-two \\(${everyTwo.id}\\): resumed; next fire .*Z \\((now|in \\ds)\\)\\n$`));

    const missing = await vmo(['schedules', 'show', 'nope']);
    expect(missing.code).toBe(70);
    expect(missing.stderr.toString()).toBe('vmo: not_found: no schedule named "nope" (vmo schedules ls lists them)\n');

    expect(JSON.parse(ok(await vmo(['schedules', 'rm', 'every-two', '--json'])))).toEqual({ id: everyTwo.id, name: 'every-two' });
    expect(ok(await vmo(['schedules', 'rm', fleet.id]))).toBe(`fleet-uptime (${fleet.id}): deleted\n`);
    expect((await api.schedules.list()).items).toEqual([]);
  });
});
