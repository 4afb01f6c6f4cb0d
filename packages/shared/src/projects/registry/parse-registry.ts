import { ALIAS_RULE, dirProblem, isAlias } from '../project-input.ts';

export interface RegistryEntry {
  alias: string;
  dir: string;
  line: number;
}

export interface RegistrySkip {
  /** null when the line has no alias to name. */
  alias: string | null;
  line: number;
  reason: string;
}

/**
 * An mkcli-style registry file: one `alias=directory` per line. Read as such files are written:
 * spaces around `=` and at the ends are dropped; `#` starts a comment, for a whole line or after
 * a blank (`web=/srv/web   # the site`); blank lines are skipped; a directory may be quoted
 * ('…' or "…"); `$HOME` / `${HOME}` at its start is the home (`~`), as a shell that sources the
 * file would read it. Every other line is reported with its number and why: no `=`, a bad alias
 * or directory, another variable than HOME, an alias already given on an earlier line (the
 * first one counts).
 */
export function parseRegistry(text: string): { entries: RegistryEntry[]; skipped: RegistrySkip[] } {
  const entries: RegistryEntry[] = [];
  const skipped: RegistrySkip[] = [];
  const firstLine = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/(?:^|\s)#.*$/, '').trim();
    if (content === '') return;
    const eq = content.indexOf('=');
    if (eq < 0) return skipped.push({ alias: null, line, reason: 'not alias=directory (no "=")' });
    const alias = content.slice(0, eq).trim();
    let dir = content.slice(eq + 1).trim();
    if (!isAlias(alias)) return skipped.push({ alias: alias || null, line, reason: alias === 'import' ? 'alias: "import" is reserved' : `alias: ${ALIAS_RULE}` });
    const quoted = /^(['"])(.*)\1$/.exec(dir);
    if (quoted) dir = quoted[2]!;
    dir = dir.replace(/^(?:\$HOME|\$\{HOME\})(?=\/|$)/, '~');
    if (/\$/.test(dir) && quoted?.[1] !== "'") return skipped.push({ alias, line, reason: 'directory: only $HOME is expanded; write the path out' });
    const problem = dirProblem(dir);
    if (problem) return skipped.push({ alias, line, reason: `directory: ${problem}` });
    const earlier = firstLine.get(alias);
    if (earlier !== undefined) return skipped.push({ alias, line, reason: `alias already given on line ${earlier}` });
    firstLine.set(alias, line);
    entries.push({ alias, dir, line });
  });
  return { entries, skipped };
}
