/**
 * GNU make itself as the oracle for the make database parser (issue 15 §Projects): over real
 * makefiles of open-source projects (fixtures/makefiles/*, each with its licence and source in
 * fixtures/makefiles/README.md) and hand-written edge cases, real `make -pRrq :` prints the
 * database, the parser reads it, and make is asked again:
 * - every target the parser found is one make knows: `make -q <name>` never answers
 *   "No rule to make target '<name>'";
 * - every name the database lists that the parser left out is one it had to leave out, and make
 *   agrees where it can say: a name marked `# Not a target:` that is no file is one make has no
 *   rule for; the others are special targets, suffix rules, the makefiles or target-specific
 *   variables;
 * - where the project has its own `make help` (the awk over MAKEFILE_LIST of the `## ` convention),
 *   the descriptions are the ones it prints.
 * Each fixture is copied to a temporary directory first: make may remake a makefile it includes.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTargetsOf } from '../src/projects/make-database/make-targets.ts';
import { parseMakeDatabase } from '../src/projects/make-database/parse-make-database.ts';
import { isSuffixRule, SPECIAL_TARGETS } from '../src/projects/make-database/special-targets.ts';

const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, 'fixtures', 'makefiles');
/** No Go, git or gcc is needed: their `$(shell …)` calls fail quietly, as on a machine without them. */
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', HOME: tmpdir() };

/** make's answer, whatever its exit status. */
async function make(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('make', args, { cwd, env: ENV, maxBuffer: 64 * 1024 * 1024, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const exists = (path: string) => stat(path).then(() => true, () => false);

interface Case {
  fixture: string;
  /** Targets it must find (a sample a reader can check against the makefile). */
  expected: string[];
  /** Names it must leave out. */
  excluded: string[];
  /** Descriptions it must read. */
  described?: Record<string, string>;
  /** The project's own `make help` prints its `## ` descriptions: compare with it. */
  helpTarget?: boolean;
}

const CASES: Case[] = [
  {
    fixture: 'prometheus',
    // `include Makefile.common`; targets named by variables ($(BUILD_DOCKER_ARCHS) → common-docker-amd64 …); `%: common-% ;`.
    expected: ['build', 'test', 'common-build', 'common-docker-amd64', 'common-docker-s390x', 'common-docker-publish-arm64', 'precheck', 'plugins/plugins.go', 'govulncheck', 'ui-build'],
    excluded: ['Makefile', 'Makefile.common', '.PHONY', '%', 'common-%', 'web/ui'],
  },
  {
    fixture: 'kubebuilder-project-v4',
    expected: ['all', 'help', 'manifests', 'docker-buildx', 'kustomize', 'envtest', 'undeploy'],
    excluded: ['.PHONY', 'Makefile', '.SHELLFLAGS'],
    described: { help: 'Display this help.', build: 'Build manager binary.', kustomize: 'Download kustomize locally if necessary. If wrong version is installed, it will be removed before downloading.' },
    helpTarget: true,
  },
  {
    fixture: 'efficientgo-core',
    // `include .bingo/Variables.mk`: the tools' targets are `$(GOBIN)/<tool>-<version>` from there.
    expected: ['help', 'build', 'format', 'lint', 'check-git', '/bin/misspell-v0.3.4', '/bin/goimports-v0.0.0-20200519204825-e64124511800'],
    excluded: ['.bingo/Variables.mk', 'Makefile', '.bingo//misspell.mod'],
    described: { format: 'Formats Go code.', lint: 'Runs various static analysis against our code.' },
    helpTarget: true,
  },
  {
    fixture: 'cjson',
    expected: ['all', 'shared', 'static', 'tests', 'test', 'install', 'uninstall-cjson', 'clean', 'libcjson.so.1.5.3', 'cJSON.o', 'cJSON_test'],
    excluded: ['.c.o', 'cJSON.c', 'cJSON.h', 'Makefile', '.PHONY'],
  },
  {
    fixture: 'edge-cases',
    expected: ['all', 'build', 'app-run', 'app-tool', 'test', 'deploy-1', 'deploy-2', 'deploy-all', 'prog', 'outdir', 'gen-a', 'gen-b', 'alias-only', 'weird:name', 'sec', 'lint', 'fmt', 'vet', 'a.o', 'b.o'],
    excluded: ['out/app.bin', 'out/%.bin', 'docker-%', '.c.o', 'fake-target', 'does-not-exist.mk', 'mk/rules.mk', '.SECONDEXPANSION', '.SUFFIXES', '.NOTPARALLEL', '.DELETE_ON_ERROR', '.DEFAULT', 'src/app.c'],
    described: {
      all: 'Build everything',
      build: 'Compile the binary',
      'app-tool': 'Build the tool (a recursive variable in the name)',
      'app-run': '',
      test: 'Run the first half of the tests',
      'deploy-all': 'Deploy every version',
      prog: 'Link the program',
      'gen-a': 'Generate both files',
      lint: 'Run the linters',
      vet: 'Format and vet (a continued rule line)',
      sec: 'Second expansion',
    },
  },
];

describe('the make database parser against GNU make', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vmo-make-oracle-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const c of CASES) {
    describe(c.fixture, () => {
      let dir: string;
      let database: string;
      let found: ReturnType<typeof makeTargetsOf>;
      beforeAll(async () => {
        dir = join(work, c.fixture);
        await cp(join(FIXTURES, c.fixture), dir, { recursive: true });
        database = (await make(dir, ['-pRrq', ':'])).stdout;
        const makefiles = parseMakeDatabase(database).makefiles;
        const sources = Object.fromEntries(await Promise.all(makefiles.map(async (f) => [f, await readFile(join(dir, f), 'utf8')] as const)));
        found = makeTargetsOf(database, sources);
      });

      it('finds the targets a reader sees in the makefiles, and leaves out what is not one', () => {
        const names = found.targets.map((t) => t.name);
        for (const name of c.expected) expect(names, name).toContain(name);
        for (const name of c.excluded) expect(names, name).not.toContain(name);
      });

      it('every target found is one make knows: `make -q <name>` never says it has no rule for it', async () => {
        expect(found.targets.length).toBeGreaterThan(5);
        for (const { name } of found.targets) {
          const { stderr } = await make(dir, ['-rR', '-q', '--', name]);
          expect(stderr, name).not.toContain(`No rule to make target '${name}'.`);
        }
      });

      it('every name in the database left out had to be: make has no rule for the ones marked `Not a target`, the rest are specials, suffix rules, makefiles or variables', async () => {
        const db = parseMakeDatabase(database);
        expect(db.complete).toBe(true);
        const kept = new Set(found.targets.map((t) => t.name));
        const lines = database.split('\n');
        const files = lines.slice(lines.indexOf('# Files'), lines.indexOf('# files hash-table stats:'));
        let checkedByMake = 0;
        // The pattern rules, read from the database's own `# Implicit Rules` section (`out/%.bin: …`).
        const implicit = lines.slice(lines.indexOf('# Implicit Rules'), lines.indexOf('# Files'));
        const patterns = implicit
          .flatMap((l) => /^([^#\t\s][^:]*?)::?(?:[ \t]|$)/.exec(l)?.[1]!.split(' ') ?? [])
          .filter((p) => p.includes('%'))
          .map((p) => new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('%', '.+')}$`));
        for (let i = 1; i < files.length; i++) {
          // An independent, cruder reading: any line of the section that starts with a name and a colon.
          const m = /^([^#\t\s][^:]*?):/.exec(files[i]!);
          if (!m || /^[^:]*:\s*\S+\s*:?[:+?!]?=/.test(files[i]!)) continue; // `target: VAR := value`
          const name = files[i]!.replace(/(::?)(?:[ \t].*)?$/, '');
          if (kept.has(name)) continue;
          const notATarget = files[i - 1] === '# Not a target:';
          const reason = notATarget ? 'not a target' : SPECIAL_TARGETS.has(name) ? 'special' : isSuffixRule(name) ? 'suffix rule' : db.makefiles.includes(name) ? 'makefile' : undefined;
          expect(reason, `${name} (line ${i}) is in make's database but not found`).toBeDefined();
          if (notATarget && name !== ':' && !(await exists(join(dir, name)))) {
            // Make builds it only through a pattern rule of the makefiles (prometheus's `%: common-% ;`
            // makes `lint` by `common-lint`): pattern rules are not targets, and neither is what they match.
            const { stderr } = await make(dir, ['-rR', '-q', '--', name]);
            const noRule = stderr.includes(`No rule to make target '${name}'`);
            expect(noRule || patterns.some((p) => p.test(name)), `${name}: make knows it, and no pattern rule explains how`).toBe(true);
            checkedByMake++;
          }
        }
        if (c.fixture !== 'kubebuilder-project-v4') expect(checkedByMake).toBeGreaterThan(0);
      });

      if (c.described) {
        it('reads the `## ` descriptions', () => {
          const described = Object.fromEntries(found.targets.map((t) => [t.name, t.description]));
          for (const [name, description] of Object.entries(c.described!)) expect(described[name], name).toBe(description);
        });
      }

      if (c.helpTarget) {
        it("gives each target the description the project's own `make help` prints", async () => {
          const { stdout, code } = await make(dir, ['help']);
          expect(code).toBe(0);
          const printed = stdout
            .replace(/\x1b\[[0-9;]*m/g, '')
            .split('\n')
            .map((l) => /^ {2}(\S+)\s+(.*)$/.exec(l))
            .filter((m): m is RegExpExecArray => m !== null && m[1] !== 'make') // not the `make <target>` usage line
            .map((m) => [m[1]!, m[2]!.trim()] as const);
          expect(printed.length).toBeGreaterThan(3);
          const described = new Map(found.targets.map((t) => [t.name, t.description]));
          for (const [name, description] of printed) expect(described.get(name), name).toBe(description);
        });
      }
    });
  }
});
