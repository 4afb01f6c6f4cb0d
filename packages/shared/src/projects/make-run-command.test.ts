import { describe, expect, it } from 'vitest';
import { makeRunCommand } from './make-run-command.ts';
import { validationError } from '../errors/zod-error.ts';
import { MakeArgs } from './project-input.ts';

describe('makeRunCommand', () => {
  it('quotes the directory, the target and each NAME=value as one word, after `--`; `$` doubled for make', () => {
    expect(makeRunCommand('/srv/my app', 'build', { VERSION: '1.2', MSG: "it's $(shell id)" })).toBe(
      `cd -- '/srv/my app' && exec make -- 'build' 'VERSION=1.2' 'MSG=it'\\''s $$(shell id)'`,
    );
  });
  it('a directory in the home is "$HOME"/…', () => {
    expect(makeRunCommand('~/src/a b', 'test', {})).toBe(`cd -- "$HOME"/'src/a b' && exec make -- 'test'`);
    expect(makeRunCommand('~', '-n', {})).toBe(`cd -- "$HOME" && exec make -- '-n'`);
  });
});

describe('MakeArgs', () => {
  const problem = (args: unknown) => {
    const r = MakeArgs.safeParse(args);
    return r.success ? undefined : validationError(r.error, 'args').message; // the API's own 400 message
  };
  it('takes names of letters, digits and _; refuses the variables that change how make runs', () => {
    expect(problem({ VERSION: '1', _x9: '' })).toBeUndefined();
    expect(problem({ '1X': 'a' })).toMatch(/^1X: names are letters/);
    expect(problem({ 'A B': 'a' })).toMatch(/names are letters/);
    expect(problem({ '-j4': 'a' })).toMatch(/names are letters/);
    for (const name of ['SHELL', 'MAKEFLAGS', 'MAKEFILES', 'MAKE', 'MFLAGS', 'GNUMAKEFLAGS', 'VPATH', 'CURDIR']) expect(problem({ [name]: 'x' }), name).toMatch(/changes how make runs/);
  });
  it('refuses values holding what a recipe\'s shell would read as syntax (make pastes values into recipes): $ ` \\ quotes ; & | < > ( )', () => {
    for (const value of ['$(rm -rf ~)', '`id`', '${HOME}', 'a\\b', '"', "it's", 'a;b', 'a&b', 'a|b', 'a>b', 'a<b', '(x)']) {
      expect(problem({ V: value }), value).toMatch(/^V: values may not hold \$ ` \\ " ' ; & \| < > \( \): make pastes a value into the recipe's shell text/);
    }
    for (const value of ['1.4.2', '-O2 -g', 'a b', '*', '~/x', 'x #y', '!x', '50%', 'k=v,w', 'user@host:/p', '{a,b}', '[x]?', '']) expect(problem({ V: value }), value).toBeUndefined();
  });

  it('refuses values with a newline or a control character, and too many or too long', () => {
    expect(problem({ A: 'a\nb' })).toMatch(/one line/);
    expect(problem({ A: 'a\tb' })).toBeUndefined();
    expect(problem({ A: 'x'.repeat(4097) })).toMatch(/at most 4096 bytes/);
    expect(problem(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`V${i}`, 'x'])))).toMatch(/at most 64 variables/);
    expect(problem({ A: 3 })).toMatch(/values must be strings/);
  });
});
