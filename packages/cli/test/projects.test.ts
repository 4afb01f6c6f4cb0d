/**
 * Issue 15 §Projects: `vmo projects add|ls|targets|run|import|rm` against the real stack (an API
 * and a worker running local jobs), the real CLI as a child process: a project added, its targets
 * discovered (the default goal marked, descriptions from `## `), `run` streaming make's output
 * and exiting with make's exit code, a NAME=value pasted into a recipe printed as written, one
 * holding shell syntax refused with nothing run, a word that is no
 * make variable refused as usage (2) before anything is sent; a registry imported with its bad
 * lines reported; the project removed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, writeMakeProject } from '@vmo/testkit';
import { runCli, useBundle, type CliResult } from './run-cli.ts';

describe('vmo projects (real stack)', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let project: string;
  let bundle: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_projects' }), useBundle()]);
    dir = mkdtempSync(join(tmpdir(), 'vmo-cli-projects-'));
    project = join(dir, 'web');
    await writeMakeProject(project);
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

  it('adds a project, lists it, discovers its targets (default goal marked), runs one with its output and exit code', async () => {
    expect(ok(await vmo(['projects', 'add', 'web', project, '--on', 'local']))).toBe(`web: ${project} on local (vmo projects targets web discovers its targets)\n`);
    const listed = ok(await vmo(['projects', 'ls']));
    expect(listed.split('\n')[0]).toMatch(/^ALIAS +ON +DIR +TARGETS +DISCOVERED$/);
    expect(listed).toMatch(new RegExp(`^web +local +${project.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +- +-$`, 'm'));

    const targets = await vmo(['projects', 'targets', 'web']);
    const lines = ok(targets).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TARGET +DESCRIPTION$/);
    expect(lines.slice(1).map((l) => l.replace(/ {2,}/g, ' | '))).toEqual(['build | Build it', 'docs/html | -', 'fail | Exit 3', 'lint * | Run the linters', 'paste | Paste MSG into the recipe', 'show | Print MSG']);
    expect(targets.stderr.toString()).toMatch(/^web: 6 targets, discovered now \d+s ago by job job_[0-9a-z]{20}\n$/);
    const json = JSON.parse(ok(await vmo(['projects', 'targets', 'web', '--json'])));
    expect(json).toMatchObject({ alias: 'web', cached: true, defaultGoal: 'lint', source: 'make' });

    const built = await vmo(['projects', 'run', 'web', 'build']);
    expect([built.code, built.stdout.toString()]).toEqual([0, 'built web\n']);
    const failed = await vmo(['projects', 'run', 'web', 'fail']);
    expect(failed.code).toBe(2); // make's own exit status when a recipe fails
    expect(failed.stderr.toString()).toContain('failing');
  });

  it('NAME=value reaches make as written, pasted into a recipe; a value holding shell syntax is refused, nothing run', async () => {
    const value = '* ~ x #y 1.4.2 -O2 -g';
    const ran = await vmo(['projects', 'run', 'web', 'paste', `MSG=${value}`]);
    expect([ran.code, ran.stdout.toString()], ran.stderr.toString()).toEqual([0, `${value}\n`]);
    const refused = await vmo(['projects', 'run', 'web', 'paste', 'MSG=$(touch pwned)']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.toString()).toContain('args.MSG: values may not hold $');
    expect(existsSync(join(project, 'pwned'))).toBe(false);
  });

  it('a word after the target that is not NAME=value is usage (2), nothing sent; an undiscovered target is the API\'s refusal', async () => {
    const usage = await vmo(['projects', 'run', 'web', 'show', 'clean']);
    expect(usage.code).toBe(2);
    expect(usage.stderr.toString()).toContain('"clean": after the target, only make variables NAME=value');
    expect((await vmo(['projects', 'run', 'web', 'show', '-j4'])).code).toBe(2); // not an option of vmo's either
    const unknown = await vmo(['projects', 'run', 'web', 'deploy']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.toString()).toContain('"deploy" is not a target of project "web"');
  });

  it('imports a registry, reporting each bad line with its number; removes a project', async () => {
    const registry = join(dir, 'registry');
    writeFileSync(registry, `# mkcli registry\nweb2=${project}\nbad line\nrel=src/x\n`);
    const imported = await vmo(['projects', 'import', registry, '--on', 'local']);
    const rows = ok(imported).trimEnd().split('\n').map((l) => l.replace(/ {2,}/g, ' | '));
    expect(rows).toEqual(['RESULT | ALIAS | DETAIL', `created | web2 | ${project}`, 'skipped | - | line 3: not alias=directory (no "=")', expect.stringMatching(/^skipped \| rel \| line 4: directory: must be an absolute path/)]);
    expect(imported.stderr.toString()).toBe(`${registry}: 1 created, 0 updated, 0 unchanged, 2 skipped\n`);
    expect(ok(await vmo(['projects', 'rm', 'web2']))).toBe('web2: removed\n');
    expect(JSON.parse(ok(await vmo(['projects', 'ls', '--json']))).map((p: { alias: string }) => p.alias)).toEqual(['web']);
  });
});
