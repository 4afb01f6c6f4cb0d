/**
 * GNU make's database (`make -pRrq`, the `-p` print) read back as data. Pure: the discovery job
 * runs make on the project's machine and prints the database; this reads what it printed.
 *
 * The format (GNU make 3.81 to 4.4; `main.c` print_data_base, `file.c` print_file,
 * `variable.c` print_variable):
 *
 *   # GNU Make 4.3                         ← version
 *   # Variables                            ← section: one variable per origin comment
 *   # makefile (from 'Makefile', line 3)
 *   NAME := app                            ← `:=` simple, `=` recursive, `define NAME … endef` multi-line
 *   # variable set hash-table stats: …
 *   # Files                                ← section: one entry per file make knows, blank-line separated
 *   # Not a target:                        ← the next entry is only a name make saw (a prerequisite, a makefile)
 *   out/app.bin:
 *   #  Phony target (prerequisite of .PHONY).
 *   #  recipe to execute (from 'Makefile', line 10):
 *   <TAB>@echo run
 *   # files hash-table stats: …            ← end of the section
 *
 * A target-specific variable is printed inside its target's entry as an origin comment and
 * `target: NAME := value`, before the entry's header line: it is not a rule.
 */

export interface MakeVariable {
  value: string;
  /** `=` (expanded when used) rather than `:=` (expanded when defined: the value is final). */
  recursive: boolean;
}

/** One entry of the `# Files` section, double-colon rules merged. */
export interface MakeFileEntry {
  name: string;
  /** Preceded by `# Not a target:`: make only saw the name (a prerequisite, a makefile, the command line's `:`). */
  notATarget: boolean;
  phony: boolean;
  /** Where the (first) recipe is, as make reports it; null without a recipe. */
  recipeFile: string | null;
  recipeLine: number | null;
  doubleColon: boolean;
}

export interface MakeDatabase {
  /** `4.3` from `# GNU Make 4.3`; null when the text does not start like make's database. */
  version: string | null;
  variables: Map<string, MakeVariable>;
  /** MAKEFILE_LIST: every makefile make read, in order (the main one first). */
  makefiles: string[];
  /** .DEFAULT_GOAL: what a bare `make` builds; null when unset or empty. */
  defaultGoal: string | null;
  /** Whether the `# Files` section was there and complete (a truncated database is not). */
  complete: boolean;
  files: MakeFileEntry[];
}

/** The comment make prints before a variable: its origin (`variable.c` print_variable). */
const ORIGIN = /^# (default|environment|environment under -e|makefile|makefile \(from '.*', line \d+\)|command line|'override' directive|override|automatic)$/;
const RECIPE_AT = /^#  recipe to execute \(from '(.*)', line (\d+)\):$/;
/** `name: prereqs`, `name:: prereqs`; the name ends at the first colon followed by a blank or the end (make prints `a\:b` as `a:b`). */
const HEADER = /^(.+?)(::?)(?:[ \t]|$)/;
const VARIABLE = /^(.+?) (:=|=) ?(.*)$/;

export function parseMakeDatabase(text: string): MakeDatabase {
  const lines = text.split('\n');
  const version = /^# GNU Make (\S+)/.exec(lines[0] ?? '')?.[1] ?? null;
  const variables = new Map<string, MakeVariable>();
  const varStart = lines.indexOf('# Variables');
  if (varStart >= 0) readVariables(lines, varStart + 1, variables);
  const filesStart = lines.indexOf('# Files');
  const filesEnd = filesStart < 0 ? -1 : lines.indexOf('# files hash-table stats:', filesStart);
  const files = filesStart < 0 ? [] : readFiles(lines, filesStart + 1, filesEnd < 0 ? lines.length : filesEnd);
  const makefiles = (variables.get('MAKEFILE_LIST')?.value ?? '').split(/\s+/).filter((f) => f !== '');
  const goal = variables.get('.DEFAULT_GOAL')?.value.trim() ?? '';
  return { version, variables, makefiles, defaultGoal: goal === '' ? null : goal, complete: filesStart >= 0 && filesEnd >= 0, files };
}

function readVariables(lines: string[], from: number, into: Map<string, MakeVariable>): void {
  let afterOrigin = false;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('# variable set hash-table stats') || line === '# Files') return;
    if (line.startsWith('#')) {
      afterOrigin = ORIGIN.test(line);
      continue;
    }
    if (!afterOrigin) continue;
    afterOrigin = false;
    const define = /^define (\S+)(?: (:?=))?$/.exec(line);
    if (define) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== 'endef'; i++) body.push(lines[i]!);
      into.set(define[1]!, { value: body.join('\n'), recursive: define[2] !== ':=' });
      continue;
    }
    const m = VARIABLE.exec(line);
    if (m) into.set(m[1]!, { value: m[3]!, recursive: m[2] === '=' });
  }
}

function readFiles(lines: string[], from: number, to: number): MakeFileEntry[] {
  const byName = new Map<string, MakeFileEntry>();
  let entry: MakeFileEntry | undefined;
  let notATarget = false;
  let afterOrigin = false;
  const finish = () => {
    if (entry) {
      const seen = byName.get(entry.name);
      if (!seen) byName.set(entry.name, entry);
      else {
        // A double-colon target has one entry per rule: one target, its first recipe.
        seen.phony ||= entry.phony;
        seen.notATarget &&= entry.notATarget;
        seen.recipeFile ??= entry.recipeFile;
        seen.recipeLine ??= entry.recipeLine;
      }
    }
    entry = undefined;
    notATarget = false;
    afterOrigin = false;
  };
  for (let i = from; i < to; i++) {
    const line = lines[i]!;
    if (line === '') {
      finish();
      continue;
    }
    if (line.startsWith('\t')) continue; // a recipe line
    if (line.startsWith('#')) {
      if (line === '# Not a target:') notATarget = true;
      else if (entry && line.startsWith('#  Phony target')) entry.phony = true;
      else if (entry && RECIPE_AT.test(line) && entry.recipeFile === null) {
        const [, file, at] = RECIPE_AT.exec(line)!;
        entry.recipeFile = file!;
        entry.recipeLine = Number(at);
      } else if (ORIGIN.test(line)) afterOrigin = true;
      continue;
    }
    if (afterOrigin) {
      // A target-specific variable (`prog: CFLAGS := -O2`), or its multi-line `define`.
      afterOrigin = false;
      if (/^\S.*: define /.test(line) || line.startsWith('define ')) while (i + 1 < to && lines[i + 1] !== 'endef') i++;
      continue;
    }
    if (entry) continue;
    const header = HEADER.exec(line);
    if (header) entry = { name: header[1]!, notATarget, phony: false, recipeFile: null, recipeLine: null, doubleColon: header[2] === '::' };
  }
  finish();
  return [...byName.values()];
}
