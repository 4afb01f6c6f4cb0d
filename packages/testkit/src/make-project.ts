/** A small Makefile project for the projects tests (issue 15) to discover and run: API e2e and CLI. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A small project: an include, descriptions, a phony set, a pattern rule, a target with a slash, recipes that use MSG. */
export const PROJECT_MAKEFILE = [
  'include mk/common.mk',
  'NAME := web',
  '.PHONY: build show paste fail',
  'build: ## Build it',
  '\t@echo built $(NAME) > build.out; echo built $(NAME)',
  'show: ## Print MSG',
  '\t@printf \'%s\' "$$MSG" > value.txt; printf \'MSG=[%s]\\n\' "$$MSG"',
  // Pastes MSG into the recipe's text, as Makefiles do: quoted, and unquoted (the words of `:` go nowhere).
  'paste: ## Paste MSG into the recipe',
  '\t@printf \'%s\\n\' "$(MSG)"',
  '\t@: $(MSG)',
  'fail: ## Exit 3',
  '\t@echo failing >&2; exit 3',
  'docs/html:',
  '\t@mkdir -p docs && echo html > docs/html',
  '%.o: %.c',
  '\tcc -c $<',
  '',
].join('\n');
export const COMMON_MK = ['lint: ## Run the linters', '\t@echo linted', ''].join('\n');

/** Write the project (Makefile and mk/common.mk) into `dir`, created if missing. */
export async function writeMakeProject(dir: string): Promise<void> {
  await mkdir(join(dir, 'mk'), { recursive: true });
  await writeFile(join(dir, 'Makefile'), PROJECT_MAKEFILE);
  await writeFile(join(dir, 'mk', 'common.mk'), COMMON_MK);
}
