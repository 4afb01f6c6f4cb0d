import type { MakeTarget } from '../../domain/make-target.ts';

/** More lines than this is not a list of targets. */
export const MAX_LISTED_TARGETS = 5000;

/**
 * The targets a project's list command printed (mkcli's `<alias> --list-targets`), one per line:
 * the name is the first word (a trailing `:` dropped), the rest of the line, if any, its
 * description (a leading `##`, `#`, `-` or `:` dropped). Blank lines and lines starting with `#`
 * are skipped, and so is a name make could not take as a goal (with `=`, or a control character).
 * The first line of a name wins.
 */
export function parseTargetList(text: string): MakeTarget[] {
  const seen = new Map<string, MakeTarget>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?):?(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    const name = m[1]!;
    if (name.includes('=') || /[\x00-\x1f\x7f]/.test(name) || name.length > 255 || seen.has(name)) continue;
    const description = (m[2] ?? '').replace(/^(?:##?|-|:)\s*/, '').trim();
    seen.set(name, { name, description, phony: false, file: null, line: null });
    if (seen.size >= MAX_LISTED_TARGETS) break;
  }
  return [...seen.values()];
}
