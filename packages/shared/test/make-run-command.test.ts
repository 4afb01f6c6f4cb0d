/**
 * The run command of a project's target (issue 15: "args validated, passed safely … injection
 * attempts inert, asserted on the filesystem"), through a real `sh -c` and real GNU make: a
 * hostile directory, target and values reach make exactly as written, and nothing they try to
 * run runs. This is the quoting alone, with values the API would refuse (MakeArgs refuses shell
 * syntax, because a Makefile that pastes `$(NAME)` into a recipe undoes any quoting): the run
 * command must be safe on its own. The same through the whole stack (API, worker, agent, sshd): services/api/test/projects.e2e.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRunCommand } from '../src/projects/make-run-command.ts';

const run = promisify(execFile);

/** Each tries to create `pwned` in the working directory (the project's). */
const HOSTILE_VALUES = [
  "'; touch pwned; '",
  '"; touch pwned; "',
  '$(touch pwned)',
  '`touch pwned`',
  '$(shell touch pwned)',
  '$$(shell touch pwned)',
  '${shell touch pwned}',
  '\\; touch pwned',
  'x; touch pwned #',
  '-e MAKEFLAGS=--eval=$(shell touch pwned)',
  "it's a \"value\" with $HOME and \\ and \t tab",
];

describe('makeRunCommand through sh and GNU make', () => {
  let root: string;
  let dir: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vmo-make-run-'));
    dir = join(root, `it's "a dir" $(touch pwned) ; x`);
    await mkdir(dir);
    // The recipe writes the variable's value as make exported it (command-line variables are).
    await writeFile(join(dir, 'Makefile'), 'show:\n\t@printf "%s" "$$MSG" > value.txt\n');
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  for (const value of HOSTILE_VALUES) {
    it(`MSG=${JSON.stringify(value)} reaches make as written, and runs nothing`, async () => {
      await rm(join(dir, 'value.txt'), { force: true });
      await run('sh', ['-c', makeRunCommand(dir, 'show', { MSG: value })], { cwd: root });
      expect(await readFile(join(dir, 'value.txt'), 'utf8')).toBe(value);
      expect((await readdir(dir)).sort()).toEqual(['Makefile', 'value.txt']);
      expect(await readdir(root)).toEqual([`it's "a dir" $(touch pwned) ; x`]);
    });
  }

  it('a target name that looks like an option is a goal after `--`: make has no rule for it, and reads nothing else', async () => {
    const err = await run('sh', ['-c', makeRunCommand(dir, '-f/dev/null', {})], { cwd: root }).catch((e: { stderr: string; code: number }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toContain("No rule to make target '-f/dev/null'");
  });

  it('refuses a target make would read as a variable (`=`) or an empty one: discovery never lists such names', () => {
    expect(() => makeRunCommand(dir, 'X=$(shell touch pwned)', {})).toThrow(/not a make target/);
    expect(() => makeRunCommand(dir, '', {})).toThrow(/not a make target/);
  });
});
