import { shellQuote } from '../process/shell-quote.ts';
import { shellDir } from './shell-words.ts';

/**
 * The job command of POST /v1/projects/{alias}/targets/{target}/run:
 * `cd -- '<dir>' && exec make -- '<target>' 'NAME=value' …`.
 *
 * LOUD: the target and every argument reach make as argv words, never as shell text: each is
 * single-quoted (shell-words.ts), and `--` ends make's options, so neither a target nor a value
 * can add an option or a command. Make itself expands `$(…)` in a command-line variable's value
 * (`$(shell …)` would run there), so every `$` of a value is doubled: make sees the value as
 * the caller wrote it. How the Makefile then uses `$(NAME)` in its recipes is its own quoting.
 */
export function makeRunCommand(dir: string, target: string, args: Readonly<Record<string, string>>): string {
  // After `--` make still reads `NAME=value` as a variable: a goal must have no `=` (discovery lists none).
  if (target === '' || target.includes('=')) throw new Error(`${JSON.stringify(target)} is not a make target`);
  const words = [shellQuote(target), ...Object.entries(args).map(([name, value]) => shellQuote(`${name}=${value.replaceAll('$', '$$$$')}`))];
  return `cd -- ${shellDir(dir)} && exec make -- ${words.join(' ')}`;
}
