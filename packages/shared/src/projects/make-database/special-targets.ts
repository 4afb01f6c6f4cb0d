/**
 * Names GNU make gives a meaning of its own (the manual's "Special Built-in Target Names"): rules
 * for make, never something a user builds. `.WAIT` (4.4) and `.EXTRA_PREREQS` (a variable, but
 * listed for safety) are included so a newer make's database does not leak them.
 */
export const SPECIAL_TARGETS: ReadonlySet<string> = new Set([
  '.PHONY',
  '.SUFFIXES',
  '.DEFAULT',
  '.PRECIOUS',
  '.INTERMEDIATE',
  '.NOTINTERMEDIATE',
  '.SECONDARY',
  '.SECONDEXPANSION',
  '.DELETE_ON_ERROR',
  '.IGNORE',
  '.LOW_RESOLUTION_TIME',
  '.SILENT',
  '.EXPORT_ALL_VARIABLES',
  '.NOTPARALLEL',
  '.ONESHELL',
  '.POSIX',
  '.WAIT',
  '.EXTRA_PREREQS',
  '.DEFAULT_GOAL',
  '.LIBPATTERNS',
]);

/**
 * GNU make's built-in suffix list (`make -p` without -r: SUFFIXES). Discovery runs `make -r` so
 * that the built-in rules stay out of the database; a side effect is that an old-fashioned suffix
 * rule (`.c.o:`) then shows as an ordinary target. A plain `make` reads it as a rule, so a name
 * made of one or two of these suffixes is not a target.
 */
const BUILT_IN_SUFFIXES: ReadonlySet<string> = new Set(
  '.out .a .ln .o .c .cc .C .cpp .p .f .F .m .r .y .l .ym .yl .s .S .mod .sym .def .h .info .dvi .tex .texinfo .texi .txinfo .w .ch .web .sh .elc .el'.split(' '),
);

/** `.c.o` or `.c`: a suffix rule under make's default suffix list. */
export function isSuffixRule(name: string): boolean {
  const m = /^(\.[^./]+)(\.[^./]+)?$/.exec(name);
  if (!m) return false;
  return BUILT_IN_SUFFIXES.has(m[1]!) && (m[2] === undefined || BUILT_IN_SUFFIXES.has(m[2]));
}
