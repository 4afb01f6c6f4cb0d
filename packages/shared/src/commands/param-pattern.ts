import { RE2JS, RE2JSException } from 're2js';

/**
 * A string parameter's `pattern`, compiled by RE2's rules (re2js, a port of RE2 to JavaScript).
 *
 * Why not `new RegExp`: JavaScript's engine backtracks, so a pattern like `(a+)+$` against a few
 * thousand `a`s followed by `!` runs for ages, and the pattern is written by one user while the
 * value comes from another (anyone who may run the command). RE2 matches in time linear in the
 * value and refuses what would need backtracking (look-around, back-references), so no pattern a
 * command may hold can stall the API. Values are also bounded (MAX_PARAM_VALUE_BYTES) and patterns
 * (MAX_PATTERN_LENGTH, and MAX_PATTERN_PROGRAM_SIZE once compiled), so each check is a bounded
 * amount of work, with no timeout to tune.
 *
 * The match is of the WHOLE value (`matches`, as if the pattern were between `^` and `$`): a
 * pattern `[a-z]+` accepts `web`, never `web; rm -rf ~`.
 */
export interface ParamPattern {
  test(value: string): boolean;
}

/**
 * The largest compiled program a pattern may be (RE2's "program size", about one instruction per
 * character class or literal, repetitions unrolled). Linear matching still costs time proportional
 * to value × program: measured here, a pattern of size 500 (`[\s\S]{0,166}x{166}`) takes about
 * 150 ms on a 4 KiB value, one of 3,000 about a second. Patterns people write are far smaller
 * (`[a-z0-9.-]+` is 4, `.{0,255}` 512 would be refused: write `.{0,200}`).
 */
export const MAX_PATTERN_PROGRAM_SIZE = 500;

/** The pattern compiled, or the reason RE2 refuses it (its own words: "missing closing )", "invalid or unsupported Perl syntax"), or ours (too large). */
export function compileParamPattern(pattern: string): ParamPattern | { error: string } {
  try {
    const re = RE2JS.compile(pattern);
    const size = re.programSize();
    if (size > MAX_PATTERN_PROGRAM_SIZE) return { error: `it is too large (program size ${size}, at most ${MAX_PATTERN_PROGRAM_SIZE}): use fewer or smaller repetition counts` };
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
