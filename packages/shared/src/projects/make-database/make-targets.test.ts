import { describe, expect, it } from 'vitest';
import { expandVariables } from './expand-variables.ts';
import { makeTargetsOf } from './make-targets.ts';
import { parseMakeDatabase } from './parse-make-database.ts';
import { isSuffixRule } from './special-targets.ts';
import { targetDescriptions } from './target-descriptions.ts';

/*
 * The pure parser, on database text shaped as GNU make 4.3 prints it (cut from real
 * `make -pRrq :` output). What real make says of real makefiles is checked in
 * packages/shared/test/make-database-oracle.test.ts.
 */
const DB = [
  '# GNU Make 4.3',
  '# Built for x86_64-pc-linux-gnu',
  '',
  '# Make data base, printed on Mon Nov 30 21:45:29 2026',
  '',
  '# Variables',
  '',
  '# makefile (from \'Makefile\', line 1)',
  'NAME := app',
  '# makefile (from \'Makefile\', line 2)',
  'TOOL = $(NAME)-tool',
  '# environment',
  'HOME = /root',
  '# makefile (from \'inc.mk\', line 1)',
  'MAKEFILE_LIST :=  Makefile inc.mk',
  '# makefile (from \'Makefile\', line 9)',
  '.DEFAULT_GOAL := all',
  '# makefile (from \'Makefile\', line 3)',
  'define TEMPLATE',
  'x: ## not a rule',
  'endef',
  '# variable set hash-table stats:',
  '# Load=26/1024=3%, Rehash=0, Collisions=0/50=0%',
  '',
  '# Files',
  '',
  '# Not a target:',
  'out/app.bin:',
  '#  Implicit rule search has not been done.',
  '',
  'app-run:',
  '#  Phony target (prerequisite of .PHONY).',
  '#  recipe to execute (from \'Makefile\', line 10):',
  '\t @echo run',
  '',
  '# Not a target:',
  'Makefile:',
  '#  Last modified 2026-11-30 21:45:29',
  '',
  '# makefile (from \'Makefile\', line 2)',
  'prog: CFLAGS := -O2',
  'prog: a.o | outdir',
  '# variable set hash-table stats:',
  '#  recipe to execute (from \'Makefile\', line 4):',
  '\tcc -o $@ $^',
  '',
  'test::',
  '#  Phony target (prerequisite of .PHONY).',
  '#  recipe to execute (from \'Makefile\', line 11):',
  '\t @echo t1',
  '',
  'test::',
  '#  Phony target (prerequisite of .PHONY).',
  '#  recipe to execute (from \'Makefile\', line 12):',
  '\t @echo t2',
  '',
  'weird:name:',
  '#  recipe to execute (from \'Makefile\', line 8):',
  '\t @echo w',
  '',
  'all: app-run',
  '#  Phony target (prerequisite of .PHONY).',
  '',
  '.PHONY: all app-run test',
  '',
  '.c.o:',
  '#  recipe to execute (from \'Makefile\', line 14):',
  '\t cc',
  '',
  '# Not a target:',
  '.DEFAULT:',
  '',
  'inc.mk:',
  '#  recipe to execute (from \'Makefile\', line 20):',
  '\t touch inc.mk',
  '',
  '# files hash-table stats:',
  '# Load=17/1024=2%, Rehash=0, Collisions=0/42=0%',
  '# VPATH Search Paths',
  '',
].join('\n');

describe('parseMakeDatabase', () => {
  it('reads the version, the variables (simple, recursive, multi-line), MAKEFILE_LIST and .DEFAULT_GOAL', () => {
    const db = parseMakeDatabase(DB);
    expect(db.version).toBe('4.3');
    expect(db.complete).toBe(true);
    expect(db.variables.get('NAME')).toEqual({ value: 'app', recursive: false });
    expect(db.variables.get('TOOL')).toEqual({ value: '$(NAME)-tool', recursive: true });
    expect(db.variables.get('TEMPLATE')).toEqual({ value: 'x: ## not a rule', recursive: true });
    expect(db.makefiles).toEqual(['Makefile', 'inc.mk']);
    expect(db.defaultGoal).toBe('all');
  });

  it('reads each entry once: a target-specific variable is not its header, double-colon rules merge, a `Not a target` mark is kept', () => {
    const db = parseMakeDatabase(DB);
    const byName = new Map(db.files.map((f) => [f.name, f]));
    expect([...byName.keys()]).toEqual(['out/app.bin', 'app-run', 'Makefile', 'prog', 'test', 'weird:name', 'all', '.PHONY', '.c.o', '.DEFAULT', 'inc.mk']);
    expect(byName.get('prog')).toMatchObject({ notATarget: false, recipeFile: 'Makefile', recipeLine: 4 });
    expect(byName.get('test')).toMatchObject({ phony: true, doubleColon: true, recipeLine: 11 });
    expect(byName.get('out/app.bin')?.notATarget).toBe(true);
    expect(byName.get('all')).toMatchObject({ phony: true, recipeFile: null });
  });

  it('a database cut short (the job output truncated, make killed) is not complete', () => {
    expect(parseMakeDatabase(DB.slice(0, DB.indexOf('# files hash-table stats'))).complete).toBe(false);
    expect(parseMakeDatabase('make: *** No targets.  Stop.\n')).toMatchObject({ version: null, complete: false, files: [] });
  });
});

describe('makeTargetsOf', () => {
  it('keeps the real targets, sorted; leaves out specials, suffix rules, prerequisites only seen, the makefiles (even with a rule)', () => {
    const { targets, defaultGoal } = makeTargetsOf(DB, {});
    expect(targets.map((t) => t.name)).toEqual(['all', 'app-run', 'prog', 'test', 'weird:name']);
    expect(defaultGoal).toBe('all');
    expect(targets.find((t) => t.name === 'app-run')).toEqual({ name: 'app-run', description: '', phony: true, file: 'Makefile', line: 10 });
  });

  it('describes targets from `## ` on their rule lines in every makefile read, names with variables expanded', () => {
    const sources = {
      Makefile: ['all: app-run ## Build it all', '$(NAME)-run: ## Run $(NAME)', 'prog: CFLAGS := -O2 ## not this', 'prog: a.o ## Link', 'test:: ## Test'].join('\n'),
      'inc.mk': 'weird\\:name: ## unreachable: the source name has a backslash\n',
    };
    const described = Object.fromEntries(makeTargetsOf(DB, sources).targets.map((t) => [t.name, t.description]));
    expect(described).toEqual({ all: 'Build it all', 'app-run': 'Run $(NAME)', prog: 'Link', test: 'Test', 'weird:name': '' });
  });
});

describe('targetDescriptions', () => {
  const none = () => undefined;
  it('skips recipes, `##@` sections, define blocks, text after a `;`, single `#` comments; joins continued lines', () => {
    const source = [
      '##@ General',
      'help: ## Display this help.',
      '\t@echo "x: ## in a recipe"',
      'define T',
      'fake: ## in define',
      'endef',
      'run: ; @echo run ## the recipe\'s',
      'lint: # a comment ## not the convention',
      'fmt \\',
      '  vet: ## Format and vet',
      'a b &: ## Grouped',
      'x := y ## a variable',
      'deps: ## Deps with a: colon',
    ].join('\n');
    expect(Object.fromEntries(targetDescriptions(source, none))).toEqual({ help: 'Display this help.', fmt: 'Format and vet', vet: 'Format and vet', a: 'Grouped', b: 'Grouped', deps: 'Deps with a: colon' });
  });

  it('the first description of a name wins', () => {
    expect(targetDescriptions('a: ## one\na: ## two\n', none).get('a')).toBe('one');
  });
});

describe('expandVariables', () => {
  const vars = new Map([
    ['NAME', { value: 'app', recursive: false }],
    ['TOOL', { value: '$(NAME)-tool', recursive: true }],
    ['LOOP', { value: '$(LOOP)x', recursive: true }],
    ['V', { value: '1 2', recursive: false }],
  ]);
  it('expands $(X), ${X}, $X, $$ and recursive values; an unknown variable is empty', () => {
    expect(expandVariables('$(TOOL)/${NAME}-$$-$(NOPE)x', vars)).toBe('app-tool/app-$-x');
    expect(expandVariables('deploy-$(V)', vars)).toBe('deploy-1 2');
  });
  it('gives up on function calls, substitution references and loops', () => {
    expect(expandVariables('$(addprefix x-,$(V))', vars)).toBeUndefined();
    expect(expandVariables('$(V:1=3)', vars)).toBeUndefined();
    expect(expandVariables('$(LOOP)', vars)).toBeUndefined();
    expect(expandVariables('$(', vars)).toBeUndefined();
  });
});

describe('isSuffixRule', () => {
  it('is a name of one or two built-in suffixes', () => {
    expect(['.c.o', '.c', '.cc.o', '.y.c'].every(isSuffixRule)).toBe(true);
    expect(['.venv', '.git/hooks', 'a.c.o', '.c.zz', '.env.local'].some(isSuffixRule)).toBe(false);
  });
});
