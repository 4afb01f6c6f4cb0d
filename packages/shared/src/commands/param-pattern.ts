import { RE2JS, RE2JSException } from 're2js';

/**
 * A string parameter's `pattern`, compiled by RE2's rules (re2js, a port of RE2 to JavaScript).
 *
 * Why not `new RegExp`: JavaScript's engine backtracks, so a pattern like `(a+)+$` against a few
 * thousand `a`s followed by `!` runs for ages, and the pattern is written by one user while the
 * value comes from another (anyone who may run the command). RE2 matches in time linear in the
 * value and refuses what would need backtracking (look-around, back-references), so no pattern a
 * command may hold can stall the API. Values are also bounded (MAX_PARAM_VALUE_BYTES) and patterns
 * (MAX_PATTERN_LENGTH), so each check is a bounded amount of work, with no timeout to tune.
 *
 * The match is of the WHOLE value (`matches`, as if the pattern were between `^` and `$`): a
 * pattern `[a-z]+` accepts `web`, never `web; rm -rf ~`.
 */
export interface ParamPattern {
  test(value: string): boolean;
}

/** The pattern compiled, or the reason RE2 refuses it (its own words: "missing closing )", "invalid or unsupported Perl syntax"). */
export function compileParamPattern(pattern: string): ParamPattern | { error: string } {
  try {
    const re = RE2JS.compile(pattern);
    return { test: (value: string) => re.matches(value) };
  } catch (err) {
    if (err instanceof RE2JSException) return { error: err.message.replace(/^error parsing regexp: /, '') };
    throw err;
  }
}

/** Compiled patterns by their text: each stored pattern is compiled once per process, not at every run. */
const compiled = new Map<string, ParamPattern | { error: string }>();
const MAX_CACHED = 1000;

export function cachedParamPattern(pattern: string): ParamPattern | { error: string } {
  let found = compiled.get(pattern);
  if (!found) {
    if (compiled.size >= MAX_CACHED) compiled.clear();
    found = compileParamPattern(pattern);
    compiled.set(pattern, found);
  }
  return found;
}
