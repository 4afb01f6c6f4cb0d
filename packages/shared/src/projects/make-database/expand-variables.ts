import type { MakeVariable } from './parse-make-database.ts';

/** Deeper than this is a loop (`A = $(B)`, `B = $(A)`) or not worth following. */
const MAX_DEPTH = 16;

/**
 * Expand plain variable references in makefile text (`$(NAME)`, `${NAME}`, `$N`, `$$`) with the
 * values make's database printed, as make would. Used on the target names of rule lines, so that
 * `$(NAME)-run: ## Run it` describes `app-run`. Anything cleverer (a function call such as
 * `$(addprefix …)`, a substitution reference `$(X:.c=.o)`) answers undefined: the name is then
 * left undescribed rather than guessed. An unknown variable is empty, as in make.
 */
export function expandVariables(text: string, variables: ReadonlyMap<string, MakeVariable>, depth = 0): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '$') {
      out += ch;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) return undefined;
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string;
    if (next === '(' || next === '{') {
      const close = text.indexOf(next === '(' ? ')' : '}', i + 2);
      if (close < 0) return undefined;
      name = text.slice(i + 2, close);
      if (!/^[^\s:=,(){}$#]+$/.test(name)) return undefined;
      i = close;
    } else {
      name = next;
      i++;
    }
    const variable = variables.get(name);
    if (variable === undefined) continue;
    if (!variable.recursive) {
      out += variable.value;
      continue;
    }
    const value = expandVariables(variable.value, variables, depth + 1);
    if (value === undefined) return undefined;
    out += value;
  }
  return out;
}
