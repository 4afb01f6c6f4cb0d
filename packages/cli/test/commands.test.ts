/**
 * Issue 15: `vmo commands add|ls|show|versions|run|rm` against the real stack (an API, a worker, two
 * real agents). The real CLI as a child process: commands saved from flags and from a YAML file,
 * listed and shown; `--update` writes version 2 and `versions` shows both; `run` streams the job's
 * output byte for byte and exits with its code (a parameter reaching the script only as
 * $VMO_PARAM_<NAME>: a hostile value is printed, not run), on its default target, on --on, and as a
 * fleet run on a selector default (exit 1 when a target fails); a secret from --param-file is *** in
 * the output; a refused parameter is the API's message and 70; bad usage is 2.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command, CommandRun } from '@vmo/shared/api';
import { registerSecret, TestSystem } from '@vmo/testkit';
import { runCli, startAgent, useBundle, type CliResult } from './run-cli.ts';

const SECRET = 'cliSecret-Rt5Yh8-Mq3Zp6-value';
const KEY = '9d1f3b5a7c9e1d3f5b7a9c1e3d5f7b9a2c4e6a8c0e2d4f6b8a0c2e4d6f8b0a1c';

describe('vmo commands (real stack)', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let bundle: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    registerSecret('a secret parameter given to vmo commands run', SECRET);
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_commands', env: { VMO_SECRET_KEY: KEY } }), useBundle()]);
    await Promise.all([startAgent(system, 'web-1', { role: 'web' }), startAgent(system, 'web-2', { role: 'web' })]);
    dir = mkdtempSync(join(tmpdir(), 'vmo-cli-commands-'));
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

  it('saves from flags, shows, lists, writes a new version, lists versions, runs (output and exit code), removes', async () => {
    const script = 'printf "hello %s x%s\\n" "$VMO_PARAM_WHO" "$VMO_PARAM_TIMES"; exit "$VMO_PARAM_CODE"';
    const added = ok(await vmo(['commands', 'add', 'greet', '--description', 'says hello', '-p', 'who:string!', '-p', 'times:int=2', '-p', 'code:enum(0|3)=0', '--on', 'agent:web-1', '--label', 'team=a', '--', script]));
    expect(added).toBe('greet: version 1 saved (params who:string! times:int=2 code:enum(0|3)=0)\n');

    const shown = ok(await vmo(['commands', 'show', 'greet']));
    expect(shown).toMatch(/^Name: +greet\nVersion: +1\nDescription: +says hello\nDefault target: +agent:web-1\n/);
    expect(shown).toContain('\nParameters (each reaches the script as $VMO_PARAM_<NAME>):\n  who:string!\n  times:int=2\n  code:enum(0|3)=0\n');
    expect(shown).toContain(`\nScript:\n  ${script}\n`);
    const json = JSON.parse(ok(await vmo(['commands', 'show', 'greet', '--json']))) as Command;
    expect(json).toMatchObject({ name: 'greet', version: 1, labels: { team: 'a' }, defaultTarget: { type: 'agent', agent: 'web-1' } });

    // The output byte for byte, the script's exit code as vmo's; a hostile value is data.
    const hostile = `$(touch ${join(dir, 'pwned')}); \`id\``;
    const ran = await vmo(['commands', 'run', 'greet', '--param', `who=${hostile}`]);
    expect([ran.code, ran.stdout.toString()], ran.stderr.toString()).toEqual([0, `hello ${hostile} x2\n`]);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
    const three = await vmo(['commands', 'run', 'greet', '-p', 'who=web-2', '-p', 'times=5', '-p', 'code=3', '--on', 'agent:web-2']);
    expect([three.code, three.stdout.toString()]).toEqual([3, 'hello web-2 x5\n']);

    const detached = JSON.parse(ok(await vmo(['commands', 'run', 'greet', '-p', 'who=d', '--detach', '--json']))) as CommandRun;
    expect(detached).toMatchObject({ kind: 'job', command: { name: 'greet', version: 1 }, job: { savedCommand: { name: 'greet', version: 1 } } });

    // A refused value: the API's words, exit 70; bad usage: 2, before any server is asked.
    const refused = await vmo(['commands', 'run', 'greet', '-p', 'who=x', '-p', 'times=many']);
    expect([refused.code, refused.stderr.toString()]).toEqual([70, 'vmo: invalid_param: params.times: must be a whole number (digits, an optional sign)\n']);
    const both = await vmo(['commands', 'run', 'greet', '--on', 'local', '--selector', 'role=web']);
    expect([both.code, both.stderr.toString()]).toEqual([2, 'vmo: usage: --on and --selector: give one (--on is one target, --selector a fleet)\n']);
    const badSpec = await vmo(['commands', 'add', 'x', '-p', 'Bad-Name', '--', 'true']);
    expect(badSpec.code).toBe(2);

    // --update: version 2 (the whole command), and both versions listed.
    expect(ok(await vmo(['commands', 'add', 'greet', '--update', '-p', 'who:string=world', '--on', 'agent:web-1', '--', 'echo "v2 $VMO_PARAM_WHO"']))).toBe('greet: version 2 written (params who:string=world)\n');
    expect((await vmo(['commands', 'run', 'greet'])).stdout.toString()).toBe('v2 world\n');
    expect((await vmo(['commands', 'run', 'greet', '--cmd-version', '1', '-p', 'who=old'])).stdout.toString()).toBe('hello old x2\n');
    const versions = ok(await vmo(['commands', 'versions', 'greet'])).trimEnd().split('\n');
    expect(versions[0]).toMatch(/^VERSION +WRITTEN +BY +PARAMS +SCRIPT$/);
    expect(versions[1]).toMatch(/^2 +\S+Z +\S.* +who:string=world +echo "v2 \$VMO_PARAM_WHO"$/);
    expect(versions[2]).toMatch(/^1 +\S+Z .* who:string! times:int=2 code:enum\(0\|3\)=0 +printf/);

    const ls = ok(await vmo(['commands', 'ls'])).trimEnd().split('\n');
    expect(ls[0]).toMatch(/^NAME +VERSION +PARAMS +DEFAULT TARGET +DESCRIPTION$/);
    expect(ls[1]).toMatch(/^greet +2 +who +agent:web-1$/);
    expect(ok(await vmo(['commands', 'ls', '--agent', 'web-1'])).trimEnd().split('\n')[1]).toMatch(/^greet /);

    expect(ok(await vmo(['commands', 'rm', 'greet']))).toBe('greet: deleted\n');
    const gone = await vmo(['commands', 'run', 'greet']);
    expect(gone.code).toBe(70);
    expect(gone.stderr.toString()).toMatch(/^vmo: not_found: command "greet" was deleted/);
  });

  it('saves from a YAML file and runs it as a fleet run on its selector; a secret from --param-file is masked', async () => {
    const file = join(dir, 'check.yaml');
    writeFileSync(
      file,
      [
        'name: check',
        'description: prints the secret and a code per host',
        'script: |',
        '  printf "token=%s on %s\\n" "$VMO_PARAM_TOKEN" "$VMO_PARAM_MODE"',
        '  [ "$VMO_PARAM_FAIL" = true ] && exit 4 || exit 0',
        'params:',
        '  - {name: token, type: string, secret: true, required: true}',
        '  - {name: mode, type: enum, values: [fast, safe], default: safe}',
        '  - {name: fail, type: bool, default: false}',
        'defaultTarget: {selector: role=web}',
        'timeoutMs: 60000',
        '',
      ].join('\n'),
    );
    expect(ok(await vmo(['commands', 'add', '--file', file]))).toBe('check: version 1 saved (params token:secret! mode:enum(fast|safe)=safe fail:bool=false)\n');
    const secretFile = join(dir, 'token');
    writeFileSync(secretFile, `${SECRET}\n`);

    const fleet = await vmo(['commands', 'run', 'check', '--param-file', `token=${secretFile}`, '--stream', '--max-concurrency', '1']);
    expect(fleet.code, fleet.stderr.toString()).toBe(0);
    const out = fleet.stdout.toString();
    expect(out.split('\n').filter(Boolean).sort()).toEqual(['[web-1] token=*** on safe', '[web-2] token=*** on safe']);
    expect(fleet.stderr.toString()).not.toContain(SECRET);
    expect(out).not.toContain(SECRET);

    const failing = await vmo(['commands', 'run', 'check', '--param-file', `token=${secretFile}`, '-p', 'fail=true', '-p', 'mode=fast']);
    expect(failing.code).toBe(1);
    expect(failing.stdout.toString()).toMatch(/^run_[0-9a-z]{20} failed: 0 of 2 succeeded\n {2}failed +exit 4 +2 {2}web-1, web-2\n {6}2× "token=\*\*\* on fast" \(\d+ B\)\n$/);

    // One machine of the fleet with --on: a job, its exit code.
    const one = await vmo(['commands', 'run', 'check', '--param-file', `token=${secretFile}`, '-p', 'fail=true', '--on', 'agent:web-2']);
    expect([one.code, one.stdout.toString()]).toEqual([4, 'token=*** on safe\n']);

    // The file and a flag that the file already holds: bad usage.
    const mixed = await vmo(['commands', 'add', '--file', file, '--on', 'local']);
    expect([mixed.code, mixed.stderr.toString()]).toEqual([2, 'vmo: usage: --file holds the whole command: leave out --on\n']);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: [unclosed\n');
    expect((await vmo(['commands', 'add', '--file', bad])).code).toBe(2);
  });
});
