/**
 * Issue 18: `vmo templates|workspaces|operations|usage` against the real stack (an API and a worker
 * whose engine runs the operations on the `fake` provider). The real CLI as a child process: a
 * template from a YAML config file, edited to version 2; a workspace created and followed to its end
 * (its provider's log lines live, exit 0), listed, shown, stopped, snapshotted and restored; a
 * template whose start fails makes `create` exit 1 with the provider's error; --no-wait answers at
 * once and `operations logs -f` follows; an ended operation cannot be canceled (70); sessions booked
 * and canceled; usage reports; bad flags are usage errors (2) before any server is asked.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';
import { runCli, startCli, useBundle, type CliResult } from './run-cli.ts';

describe('vmo templates, workspaces, operations, usage (real stack, fake provider)', { timeout: 240_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let bundle: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_workspaces', apis: 1, workers: 0 }), useBundle()]);
    await system.startWorker({ VMO_WORKSPACE_AGENT_URL: system.apiUrls[0]! });
    dir = mkdtempSync(join(tmpdir(), 'vmo-cli-ws-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(dir, 'xdg') };
  }, 180_000);
  afterAll(async () => {
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  const vmo = (args: string[]) => runCli(args, { env, cwd: dir, timeoutMs: 90_000 });
  const ok = (r: CliResult) => {
    expect(r.code, r.stderr.toString()).toBe(0);
    return r.stdout.toString();
  };
  const json = (r: CliResult) => JSON.parse(ok(r));

  it('refuses bad usage with 2 before asking a server', async () => {
    const noServer = (args: string[]) => runCli(args, { env: { XDG_CONFIG_HOME: join(dir, 'none') }, cwd: dir });
    for (const [args, message] of [
      [['templates', 'create', 't', '--provider', 'nope'], '--provider: "nope" must be one of fake, netns, command, docker'],
      [['templates', 'create', 't', '--provider', 'fake', '--ttl', '2 hours'], '--ttl: "2 hours" is not a duration'],
      [['templates', 'create', 't', '--provider', 'fake', '--config-file', join(dir, 'missing.yaml')], '--config-file: cannot read'],
      [['templates', 'edit', 't'], 'nothing to change'],
      [['workspaces', 'create', 'w', '--template', 'dev', '--tz', 'UTC'], '--tz is the timezone of --autostart'],
      [['workspaces', 'create', 'w', '--template', 'dev', '--param', 'novalue'], '--param: "novalue" must be NAME=VALUE'],
      [['workspaces', 'create', 'w'], "required option '--template <template>'"],
      [['workspaces', 'schedule', 'w', '--at', 'tomorrow', '--for', '1h'], '--at: "tomorrow" is not a time'],
      [['operations', 'ls', '--status', 'sleeping'], 'sleeping'],
    ] as const) {
      const r = await noServer([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.toString()).toContain(message);
    }
  });

  it('templates: created from a YAML config, listed, shown, edited to a new version', async () => {
    writeFileSync(join(dir, 'fake.yaml'), `dir: ${JSON.stringify(join(dir, 'envs'))}\nscript:\n  converge_running:\n    logs: [booting the box, box is up]\n`);
    expect(ok(await vmo(['templates', 'create', 'dev', '--provider', 'fake', '--config-file', join(dir, 'fake.yaml'), '--ttl', '2h', '--idle', '30m', '--cost-per-hour', '0.5', '--param', 'region=eu']))).toMatch(/^dev \(tpl_[0-9a-z]{20}\): created, version 1\n$/);
    const dup = await vmo(['templates', 'create', 'dev', '--provider', 'fake']);
    expect(dup.code).toBe(70);
    expect(dup.stderr.toString()).toMatch(/^vmo: template_exists: /);

    const ls = ok(await vmo(['templates', 'ls'])).trimEnd().split('\n');
    expect(ls[0]).toMatch(/^NAME +VERSION +PROVIDER +TTL +IDLE +COST\/H +PARAMS$/);
    expect(ls[1]).toMatch(/^dev +1 +fake +2h00m +30m00s +0\.5 +region$/);
    const shown = json(await vmo(['templates', 'show', 'dev', '--json']));
    expect(shown).toMatchObject({ name: 'dev', provider: 'fake', defaultTtlMs: 7_200_000, idleTimeoutMs: 1_800_000, costPerHour: 0.5, params: [{ name: 'region', default: 'eu' }], config: { script: { converge_running: { logs: ['booting the box', 'box is up'] } } } });
    expect(ok(await vmo(['templates', 'show', 'dev']))).toContain('Config:\n  {\n    "dir"');

    expect(ok(await vmo(['templates', 'edit', 'dev', '--ttl', '4h', '--idle', 'none']))).toBe(`dev (${shown.id}): version 2\n`);
    const versions = json(await vmo(['templates', 'versions', 'dev', '--json']));
    expect(versions.map((v: { version: number; defaultTtlMs: number; idleTimeoutMs: number | null }) => [v.version, v.defaultTtlMs, v.idleTimeoutMs])).toEqual([[2, 14_400_000, null], [1, 7_200_000, 1_800_000]]);

    // A template whose start fails, for the next case.
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ dir: join(dir, 'envs'), script: { converge_running: { logs: ['trying'], fail: 'no capacity in eu-1' } } }));
    ok(await vmo(['templates', 'create', 'broken', '--provider', 'fake', '--config-file', join(dir, 'broken.json')]));
  });

  it('workspaces: created and followed to its end, listed, shown, stopped, snapshotted, restored, removed', async () => {
    const created = await vmo(['workspaces', 'create', 'box', '--template', 'dev', '--param', 'region=us', '--ttl', '3h', '--autostart', '0 8 * * 1-5', '--tz', 'Europe/Berlin']);
    const out = ok(created);
    expect(out).toMatch(/^box: create wop_[0-9a-z]{20}\n/);
    expect(out).toContain('booting the box\nbox is up\n');
    expect(out.endsWith('box: create succeeded\n')).toBe(true);

    const ls = ok(await vmo(['workspaces', 'ls'])).trimEnd().split('\n');
    expect(ls[0]).toMatch(/^NAME +STATUS +HEALTH +TEMPLATE +DEADLINE +LAST OPERATION +OWNER$/);
    expect(ls[1]).toMatch(/^box +running +\S+ +dev@v2 +(-|in [23]h) +create succeeded +.+$/);
    const listed = json(await vmo(['workspaces', 'ls', '--json']));
    expect(listed.map((w: { name: string }) => w.name)).toEqual(['box']);
    const shown = json(await vmo(['workspaces', 'show', 'box', '--json']));
    expect(shown).toMatchObject({ name: 'box', status: 'running', params: { region: 'us' }, ttlMs: 10_800_000, autostart: { cron: '0 8 * * 1-5', timezone: 'Europe/Berlin' } });
    const text = ok(await vmo(['workspaces', 'show', 'box']));
    expect(text).toMatch(/^ID: +wks_/);
    expect(text).toContain('Autostart:');
    expect(text).toMatch(/Operation: +create succeeded \(wop_/);

    const edited = json(await vmo(['workspaces', 'edit', 'box', '--ttl', 'none', '--idle', '45m', '--autostart', 'none', '--json']));
    expect(edited).toMatchObject({ name: 'box', ttlMs: null, idleTimeoutMs: 2_700_000, autostart: null });
    expect((await vmo(['workspaces', 'edit', 'box'])).code).toBe(2);

    // A second action while none is active; a start of a running one is refused by the API (70).
    const again = await vmo(['workspaces', 'start', 'box']);
    expect(again.code).toBe(70);
    expect(again.stderr.toString()).toMatch(/^vmo: invalid_transition: /);

    // --json while waiting: the log on stderr, the final operation on stdout.
    const stopped = await vmo(['workspaces', 'stop', 'box', '--json']);
    expect(json(stopped).operation).toMatchObject({ type: 'stop', status: 'succeeded', workspaceName: 'box' });

    const snap = json(await vmo(['workspaces', 'snapshot', 'box', 'before', '--json']));
    expect(snap).toMatchObject({ snapshot: { name: 'before' }, operation: { type: 'snapshot', status: 'succeeded' } });
    const snaps = ok(await vmo(['workspaces', 'snapshots', 'box'])).trimEnd().split('\n');
    expect(snaps[0]).toMatch(/^ID +NAME +STATUS +SIZE +CREATED +BY$/);
    expect(snaps[1]).toMatch(/^snp_[0-9a-z]{20} +before +ready /);
    expect(ok(await vmo(['workspaces', 'restore', 'box', 'before']))).toMatch(/box: restore succeeded\n$/);
    const nope = await vmo(['workspaces', 'restore', 'box', 'nothing']);
    expect(nope.code).toBe(70);
    expect(nope.stderr.toString()).toContain('box has no snapshot "nothing"');
    // Into a new workspace: built from the snapshot (its create restores it, then runs it), then removed.
    expect(ok(await vmo(['workspaces', 'restore', 'box', 'before', '--into', 'box-copy']))).toMatch(/box-copy: create succeeded\n$/);
    expect(json(await vmo(['workspaces', 'show', 'box-copy', '--json']))).toMatchObject({ name: 'box-copy', status: 'running' });
    ok(await vmo(['workspaces', 'rm', 'box-copy']));

    // --no-wait: at once, with the operation; operations logs -f follows it to its end.
    const started = json(await vmo(['workspaces', 'start', 'box', '--no-wait', '--json']));
    expect(started.operation).toMatchObject({ type: 'start', status: expect.stringMatching(/^(pending|running|succeeded)$/) });
    const followed = ok(await vmo(['operations', 'logs', '-f', started.operation.id]));
    expect(followed).toMatch(/^start: converging to running \(fake, template version 2\)\nbooting the box\nbox is up\nfake: environment env_\w+ running\n$/);
    expect(ok(await vmo(['operations', 'logs', started.operation.id]))).toBe(followed);

    const ops = json(await vmo(['operations', 'ls', '--workspace', 'box', '--json']));
    expect(ops.map((o: { type: string; status: string }) => `${o.type}:${o.status}`)).toEqual(['start:succeeded', 'restore:succeeded', 'snapshot:succeeded', 'stop:succeeded', 'create:succeeded']);
    const opsTable = ok(await vmo(['operations', 'ls'])).trimEnd().split('\n');
    expect(opsTable[0]).toMatch(/^ID +WORKSPACE +TYPE +STATUS +REASON +CREATED +DURATION +ERROR$/);
    expect(opsTable[1]).toMatch(new RegExp(`^${started.operation.id} +box +start +succeeded +user `));
    const opShown = ok(await vmo(['operations', 'show', started.operation.id]));
    expect(opShown).toMatch(/Status: +succeeded/);
    expect(opShown).toContain('\n  booting the box\n  box is up\n');
    expect(opShown).toMatch(/\n\nLog:\n  start: converging/);
    const ended = await vmo(['operations', 'cancel', started.operation.id]);
    expect(ended.code).toBe(70);
    expect(ended.stderr.toString()).toMatch(/^vmo: operation_ended: /);

    // Sessions: booked, listed, canceled.
    const session = json(await vmo(['workspaces', 'schedule', 'box', '--at', '+2h', '--for', '30m', '--prepare', '10m', '--json']));
    expect(session).toMatchObject({ id: expect.stringMatching(/^wse_/), durationMs: 1_800_000, prepareLeadMs: 600_000, status: 'scheduled' });
    const sessions = ok(await vmo(['workspaces', 'sessions', 'box'])).trimEnd().split('\n');
    expect(sessions[0]).toMatch(/^ID +STATUS +PREPARE +START +END +DURATION$/);
    expect(sessions[1]).toMatch(new RegExp(`^${session.id} +scheduled `));
    expect(ok(await vmo(['workspaces', 'unschedule', 'box', session.id]))).toBe(`${session.id}: canceled\n`);
    expect(json(await vmo(['workspaces', 'sessions', 'box', '--upcoming', '--json']))).toEqual([]);

    // Usage: the workspace ran (seconds ≥ 0), the overview counts it.
    const usage = json(await vmo(['usage', '--workspace', 'box', '--from', '-1d', '--json']));
    expect(usage.workspaces).toHaveLength(1);
    expect(usage.workspaces[0]).toMatchObject({ name: 'box', costPerHour: 0.5 });
    expect(usage.workspaces[0].runningSeconds).toBeGreaterThan(0);
    const usageText = ok(await vmo(['usage']));
    expect(usageText).toMatch(/^From \S+ to \S+ \(counted until \S+\)\n\nWORKSPACE +OWNER +RUNNING +JOBS +OUTPUT +COST +COST\/H\nbox /);
    expect(usageText).toMatch(/\nTotal: running \S+, jobs \S+, output \d+ B, cost \d+\.\d\d\n$/);
    expect(json(await vmo(['usage', 'overview', '--json'])).workspacesByStatus.running).toBe(1);
    expect(ok(await vmo(['usage', 'overview']))).toMatch(/Workspaces: +running 1/);

    expect(ok(await vmo(['workspaces', 'rm', 'box']))).toMatch(/box: delete succeeded\n$/);
    expect(json(await vmo(['workspaces', 'ls', '--json']))).toEqual([]);
  });

  it('a failed operation exits 1 with its error; --orphan deletes without the provider', async () => {
    const failed = await vmo(['workspaces', 'create', 'flaky', '--template', 'broken']);
    expect(failed.code, failed.stderr.toString()).toBe(1);
    expect(failed.stdout.toString()).toContain('trying\n');
    expect(failed.stderr.toString()).toMatch(/vmo: create failed: \S+: .*no capacity in eu-1/);
    expect(json(await vmo(['workspaces', 'show', 'flaky', '--json'])).status).toBe('failed');
    expect(ok(await vmo(['workspaces', 'rm', 'flaky', '--orphan']))).toMatch(/^flaky \(wks_[0-9a-z]{20}\): deleted without its provider \(orphan\)\n$/);
    const gone = await vmo(['workspaces', 'show', 'flaky']);
    expect(gone.code).toBe(70);
    expect(gone.stderr.toString()).toMatch(/^vmo: not_found: /);
  });

  it('Ctrl-C stops following (75) and the operation goes on; canceled, logs -f exits 1', async () => {
    await system.client.vmo.templates.create({ name: 'slow', provider: 'fake', config: { dir: join(dir, 'envs'), script: { converge_running: { logs: ['warming up'], hangMs: 120_000 } } } });
    const cli = startCli(['workspaces', 'create', 'slow-box', '--template', 'slow'], { env, cwd: dir, timeoutMs: 90_000 });
    const opId = await waitFor('the log under way', () => (cli.stdout().toString().includes('warming up\n') ? /create (wop_[0-9a-z]{20})/.exec(cli.stdout().toString())?.[1] : undefined), 60_000, 100);
    cli.child.kill('SIGINT');
    const r = await cli.done;
    expect(r.code, r.stderr.toString()).toBe(75);
    expect(r.stderr.toString()).toContain(`stopped following ${opId} (running); it goes on`);
    expect((await system.client.vmo.operations.get(opId)).status).toBe('running');

    expect(ok(await vmo(['operations', 'cancel', opId]))).toMatch(new RegExp(`^${opId}: (canceling|canceled)\n$`));
    const followed = await vmo(['operations', 'logs', '-f', opId]);
    expect(followed.code).toBe(1);
    expect(followed.stdout.toString()).toContain('warming up\n');
    expect(followed.stderr.toString()).toMatch(/^vmo: create canceled: /);
  });
});
