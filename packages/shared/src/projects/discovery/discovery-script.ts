import { shellQuote } from '../../process/shell-quote.ts';
import { shellDir } from '../shell-words.ts';

/** What one makefile's source may add to the discovery's output (the rest is cut). */
export const MAX_MAKEFILE_SOURCE_BYTES = 1024 * 1024;

/**
 * The shell script of a discovery job (GET /v1/projects/{alias}/targets). It prints on stdout,
 * between lines `<marker> begin <what>` and `<marker> end …`, what the API reads back
 * (discovery-output.ts); everything a person needs to see why it failed also goes to stderr.
 * `marker` is fresh for each discovery, so no makefile's text can fake a section.
 *
 * With a list command (mkcli's `<alias> --list-targets`): its stdout, and its exit status.
 * Otherwise GNU make's database, `LC_ALL=C make -pRrq :` (-p print the database, -R -r without
 * the built-in variables and rules, -q run no recipe, `:` a goal that builds nothing), then the
 * source of every makefile it read (MAKEFILE_LIST), for the `## description`s.
 *
 * LOUD: the database lists make's environment, which on a real machine holds secrets: every
 * variable whose origin is `environment` is left out before anything is printed (the awk).
 * Caveat, as with bash's completion of make targets: reading a makefile runs its `$(shell …)`
 * calls, and make remakes a makefile that has a rule to remake it, even with -q.
 */
export function discoveryScript(opts: { dir: string; marker: string; listCommand?: string | null }): string {
  const dir = shellDir(opts.dir);
  const head = [
    `M=${shellQuote(opts.marker)}`,
    `cd -- ${dir} 2>/dev/null || { printf '%s error dir_missing\\n' "$M"; printf 'vmo: no directory %s here\\n' ${dir} >&2; exit 3; }`,
  ];
  if (opts.listCommand) {
    return [
      ...head,
      `printf '%s begin list\\n' "$M"`,
      `sh -c ${shellQuote(opts.listCommand)} </dev/null`,
      'rc=$?',
      `printf '\\n%s end list %s\\n' "$M" "$rc"`,
      `[ "$rc" -eq 0 ] || printf 'vmo: the list command exited with %s\\n' "$rc" >&2`,
      'exit $rc',
    ].join('\n');
  }
  return [
    ...head,
    `if [ ! -e GNUmakefile ] && [ ! -e makefile ] && [ ! -e Makefile ]; then printf '%s error no_makefile\\n' "$M"; printf 'vmo: no GNUmakefile, makefile or Makefile in %s\\n' "$PWD" >&2; exit 4; fi`,
    `command -v make >/dev/null 2>&1 || { printf '%s error no_make\\n' "$M"; echo 'vmo: make is not installed here' >&2; exit 5; }`,
    `case "$(make --version 2>/dev/null | head -n 1)" in 'GNU Make'*) ;; *) printf '%s error not_gnu_make\\n' "$M"; echo 'vmo: make here is not GNU make' >&2; exit 6;; esac`,
    `t=$(mktemp -d 2>/dev/null || mktemp -d -t vmo) || exit 7`,
    `trap 'rm -rf "$t"' EXIT`,
    `LC_ALL=C make -pRrq : >"$t/db" 2>"$t/err" </dev/null`,
    // The goal `:` always fails ("No rule to make target ':'"): that line is noise, any other is make's.
    `grep -v "No rule to make target ':'" "$t/err" >&2`,
    `printf '%s begin stderr\\n' "$M"`,
    `grep -v "No rule to make target ':'" "$t/err"`,
    `printf '%s end stderr\\n' "$M"`,
    `printf '%s begin database\\n' "$M"`,
    `awk '/^# environment/ { skip = 1; next } skip && /^define / { indef = 1 } indef { if ($0 == "endef") { indef = 0; skip = 0 }; next } skip { skip = 0; next } { print }' "$t/db"`,
    `printf '%s end database\\n' "$M"`,
    `for f in $(sed -n 's/^MAKEFILE_LIST :\\{0,1\\}= *//p' "$t/db"); do`,
    `  printf '%s begin file %s\\n' "$M" "$f"`,
    `  head -c ${MAX_MAKEFILE_SOURCE_BYTES} -- "$f" 2>/dev/null`,
    `  printf '\\n%s end file\\n' "$M"`,
    'done',
    'exit 0',
  ].join('\n');
}
