import type { MakeTarget } from '../../domain/make-target.ts';
import { expandVariables } from './expand-variables.ts';
import { parseMakeDatabase, type MakeDatabase, type MakeFileEntry } from './parse-make-database.ts';
import { isSuffixRule, SPECIAL_TARGETS } from './special-targets.ts';
import { targetDescriptions } from './target-descriptions.ts';

/**
 * Whether an entry of make's database is a target a user would build with `make <name>`:
 * - not marked `# Not a target:` (a name make only saw as a prerequisite or a makefile);
 * - not a special target (.PHONY, .SUFFIXES, .DEFAULT, …) nor an old-style suffix rule (`.c.o`);
 * - not a pattern (`%`) — pattern rules are in their own section, but a name may still carry one;
 * - not one of the makefiles themselves (make's own business: it remakes them before anything);
 * - a name `make` can take on its command line: no blank, no `=` (that would set a variable).
 */
export function isRealTarget(entry: MakeFileEntry, db: Pick<MakeDatabase, 'makefiles'>): boolean {
  const { name } = entry;
  return !entry.notATarget && !SPECIAL_TARGETS.has(name) && !isSuffixRule(name) && !name.includes('%') && !/[\s=]/.test(name) && !db.makefiles.includes(name);
}

export interface DiscoveredMakeTargets {
  targets: MakeTarget[];
  defaultGoal: string | null;
  /** The makefiles make read (MAKEFILE_LIST), whose sources give the descriptions. */
  makefiles: string[];
}

/**
 * The targets of a project: the real ones in make's database (sorted by name), each with its
 * `## description` from the makefiles' sources (`sources`: path as in MAKEFILE_LIST → text; a
 * makefile missing there only has no descriptions).
 */
export function makeTargetsOf(databaseText: string, sources: Readonly<Record<string, string>>): DiscoveredMakeTargets {
  const db = parseMakeDatabase(databaseText);
  const descriptions = new Map<string, string>();
  const expand = (name: string) => expandVariables(name, db.variables);
  for (const file of db.makefiles) {
    const source = sources[file];
    if (source !== undefined) targetDescriptions(source, expand, descriptions);
  }
  const targets = db.files
    .filter((e) => isRealTarget(e, db))
    .map((e): MakeTarget => ({ name: e.name, description: descriptions.get(e.name) ?? '', phony: e.phony, file: e.recipeFile, line: e.recipeLine }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { targets, defaultGoal: db.defaultGoal, makefiles: db.makefiles };
}
