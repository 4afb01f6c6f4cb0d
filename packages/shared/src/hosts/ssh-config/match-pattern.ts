import { asciiLower } from './tokenize.ts';
import type { WorkMeter } from './work-meter.ts';

export interface MatchOptions {
  /** Charged one unit per step; throws (413) past its limit. */
  meter?: WorkMeter;
  /** Compare ASCII letters regardless of case. */
  ignoreCase?: boolean;
}

/**
 * match.c `match_pattern`: `*` matches any run of characters, `?` exactly one, anything else
 * itself. Same answers as OpenSSH, but never exponential: OpenSSH (and the regex the `ssh-config`
 * package built from patterns) backtrack into every earlier `*`, so `*a*a*a*a*a*a*a*b` against
 * forty `a`s took seconds. Here only the latest `*` is ever resumed (which is enough for `*`/`?`
 * globs), so one match costs at most |subject| × |pattern| steps, and usually |subject| + |pattern|.
 * Every step is charged to `meter` when given, which bounds the work of a whole import.
 *
 * `ignoreCase` lowercases ASCII letters on both sides, as match.c `match_hostname` does (only
 * ASCII: ssh's tolower leaves other bytes alone, so no Unicode case folding lets a name through).
 *
 * ssh compares bytes; JavaScript strings are UTF-16, so non-ASCII text is compared as UTF-8 bytes
 * to keep `?` meaning one byte, as it does in ssh.
 *
 * The one `*`/`?` matcher of the repository: the ssh config import and the worker's
 * VMO_SSH_ALLOWED_TARGETS both use it.
 */
export function matchPattern(subject: string, pattern: string, { meter, ignoreCase = false }: MatchOptions = {}): boolean {
  if (ignoreCase) [subject, pattern] = [asciiLower(subject), asciiLower(pattern)];
  if (!isAscii(subject) || !isAscii(pattern)) [subject, pattern] = [utf8Bytes(subject), utf8Bytes(pattern)];
  let s = 0;
  let p = 0;
  let starP = -1;
  let starS = 0;
  let steps = 0;
  while (s < subject.length) {
    steps++;
    const pc = pattern[p];
    if (pc === '*') {
      starP = p++;
      starS = s;
    } else if (pc !== undefined && (pc === '?' || pc === subject[s])) {
      s++;
      p++;
    } else if (starP >= 0) {
      p = starP + 1;
      s = ++starS;
    } else {
      meter?.charge(steps);
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  meter?.charge(steps + p);
  return p === pattern.length;
}

/** match.c: a sub-pattern this long makes the whole list fail to match (its `sub[1024]` buffer). */
const MAX_SUBPATTERN = 1023;

/**
 * match.c `match_pattern_list`: `pattern` is a comma-separated list, each item optionally negated
 * with `!`. Returns -1 if a negated item matches, 1 if a positive one does, 0 otherwise. With
 * `lower`, the items are lowercased (the subject must already be).
 */
export function matchPatternList(subject: string, list: string, lower: boolean, meter: WorkMeter): -1 | 0 | 1 {
  let positive = false;
  let i = 0;
  while (i < list.length) {
    const negated = list[i] === '!';
    if (negated) i++;
    let end = list.indexOf(',', i);
    if (end < 0) end = list.length;
    const item = list.slice(i, end);
    if (item.length >= MAX_SUBPATTERN) return 0;
    i = end < list.length ? end + 1 : end;
    if (matchPattern(subject, lower ? asciiLower(item) : item, { meter })) {
      if (negated) return -1;
      positive = true;
    }
  }
  return positive ? 1 : 0;
}

/** match.c `match_hostname`: the host lowercased, the patterns too. */
export const matchHostname = (host: string, list: string, meter: WorkMeter) => matchPatternList(asciiLower(host), list, true, meter);

const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);
const utf8Bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
