/**
 * Descriptions from the `target: deps ## description` convention (the one `make help` recipes
 * print with awk), read from a makefile's source: make's database has no comments.
 *
 * Only rule lines count: a line starting with a tab is a recipe, `##` at the start of a line (or
 * `##@ Section`) describes nothing, lines inside `define … endef` are text, and a target-specific
 * variable (`prog: CFLAGS := -O2 ## …`) is no rule. A backslash-continued line is read whole.
 * `expand` turns a name with variables (`$(NAME)-run`) into the names make sees, or undefined.
 * The first description of a name wins.
 */
export function targetDescriptions(source: string, expand: (name: string) => string | undefined, into = new Map<string, string>()): Map<string, string> {
  const lines = source.split('\n');
  let inDefine = 0;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/\r$/, '');
    if (line.startsWith('\t')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.replace(/\r$/, '')}`;
    const trimmed = line.trim();
    if (/^(?:override\s+|export\s+|private\s+)*define\s/.test(trimmed)) inDefine++;
    else if (trimmed === 'endef' && inDefine > 0) inDefine--;
    if (inDefine > 0 || trimmed === 'endef') continue;
    const rule = /^([^\s:#=][^:#=]*?)\s*(?:&::?|::?)(?!=)(.*)$/.exec(line);
    if (!rule) continue;
    const rest = rule[2]!;
    // The first `#` starts make's comment; after a `;` everything is the recipe's text (the shell's).
    const at = rest.indexOf('#');
    const semicolon = rest.indexOf(';');
    if (at < 0 || rest[at + 1] !== '#' || (semicolon >= 0 && semicolon < at)) continue;
    // `target: VAR := value ## …` sets a variable for the target; it is not a rule.
    if (/^\s*(?:(?:export|override|private)\s+)*[^\s=:#]+\s*(?::{1,3}|\+|\?|!)?=/.test(rest.slice(0, at))) continue;
    const description = rest.slice(at).replace(/^#+/, '').trim();
    if (description === '') continue;
    for (const word of rule[1]!.trim().split(/\s+/)) {
      const names = word.includes('$') ? expand(word) : word;
      if (names === undefined) continue;
      for (const name of names.split(/\s+/)) if (name !== '' && !into.has(name)) into.set(name, description);
    }
  }
  return into;
}
