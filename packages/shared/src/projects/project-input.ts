import { z } from 'zod';
import { storableText } from '../errors/storable-text.ts';
import { TargetInput } from '../jobs/job-input.ts';

/**
 * An alias: what the routes (/v1/projects/{alias}) and the registry file (`alias=directory`)
 * name a project by. `import` is the import route's own path segment.
 */
export const ALIAS_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const ALIAS_RULE = 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit';
export const isAlias = (s: string): boolean => ALIAS_PATTERN.test(s) && s !== 'import';
export const ProjectAlias = z.string().superRefine((s, ctx) => {
  if (s === 'import') ctx.addIssue({ code: 'custom', message: '"import" is a path of its own (POST /v1/projects/import): choose another alias' });
  else if (!ALIAS_PATTERN.test(s)) ctx.addIssue({ code: 'custom', message: ALIAS_RULE });
});

export const MAX_DIR_BYTES = 1024;
export const DIR_RULE = 'must be an absolute path (/srv/app) or one in the home directory of whoever runs jobs there (~ or ~/src/app), on one line';
/** Why `dir` is no project directory, or undefined when it is one. */
export function dirProblem(dir: string): string | undefined {
  if (dir === '' || Buffer.byteLength(dir) > MAX_DIR_BYTES) return `must be 1 to ${MAX_DIR_BYTES} bytes`;
  if (/[\x00-\x1f\x7f]/.test(dir) || !(dir.startsWith('/') || dir === '~' || dir.startsWith('~/'))) return DIR_RULE;
  return undefined;
}
export const ProjectDir = z.string().superRefine((dir, ctx) => {
  const problem = dirProblem(dir);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const MAX_LIST_COMMAND_BYTES = 4096;
export const ListCommand = storableText(
  z
    .string()
    .min(1, 'must not be empty (null: use GNU make\'s database)')
    .refine((s) => Buffer.byteLength(s) <= MAX_LIST_COMMAND_BYTES, `must be at most ${MAX_LIST_COMMAND_BYTES} bytes`),
).meta({
  description:
    "A shell command run in `dir` that prints the project's targets, one per line: the name, then optionally its description (mkcli's `<alias> --list-targets`). Without it, the targets come from GNU make's own database.",
  example: 'mkcli web --list-targets',
});

export const ProjectInput = z
  .object({
    alias: ProjectAlias.meta({ example: 'web' }),
    dir: ProjectDir.meta({ description: DIR_RULE, example: '/srv/web' }),
    target: TargetInput.meta({ description: 'The machine, as a job target: `{"type":"agent","agent":…}`, `{"type":"ssh","host":…}`, or `{"type":"local"}` (admins, or a policy with `local`)' }),
    listCommand: ListCommand.nullable().optional(),
  })
  .strict();
export type ProjectInput = z.infer<typeof ProjectInput>;

export const ProjectPatch = z
  .object({ dir: ProjectDir.optional(), listCommand: ListCommand.nullable().optional() })
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'give dir or listCommand (to move a project to another machine, delete it and add it there)');
export type ProjectPatch = z.infer<typeof ProjectPatch>;

/** Make variables a run may set: what a user types after `make target` (VERSION=1.2). */
export const MAKE_ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/**
 * Variables that change how make itself runs rather than what the Makefile builds (the shell
 * every recipe runs in, make's own flags, where it looks): refused as arguments.
 */
export const RESERVED_MAKE_ARGS = /^(?:MAKE\w*|SHELL|MFLAGS|GNUMAKEFLAGS|VPATH|CURDIR|SUFFIXES)$/;
export const MAX_MAKE_ARGS = 64;
/**
 * LOUD: what a make variable's value may not hold. vmo hands the value to make as one argv word
 * (make-run-command.ts), but make itself pastes it, as text, into every recipe line that writes
 * `$(NAME)`, and the recipe's shell then reads it: in `echo "deploying $(VERSION)"` a VERSION of
 * `$(rm -rf ~)` is a command substitution the shell runs. No quoting vmo does survives that
 * (make undoes it), so the characters that end a command, start
 * a substitution or a redirection, or break the recipe's quotes are refused: `$`, backquote, `\`,
 * quotes, `;`, `&`, `|`, `<`, `>`, `(`, `)`. Spaces, globs, `~`, `#`, `=`, `,`, `/`, `@`, `%`, `+`
 * stay allowed (CFLAGS="-O2 -g", a path, a list): they can change what a command does with its
 * arguments, as on any command line, but cannot add a command.
 */
export const SHELL_SYNTAX = /[$`\\"';&|<>()]/;
const SHELL_SYNTAX_SHOWN = '$ ` \\ " \' ; & | < > ( )';
export const MAX_MAKE_ARG_VALUE_BYTES = 4096;

export const MakeArgs = z
  .record(
    z.string().superRefine((name, ctx) => {
      if (!MAKE_ARG_NAME.test(name)) ctx.addIssue({ code: 'custom', message: 'names are letters, digits and "_", not starting with a digit, at most 128' });
      else if (RESERVED_MAKE_ARGS.test(name)) ctx.addIssue({ code: 'custom', message: `${name} changes how make runs, not what it builds: it may not be set` });
    }),
    storableText(
      z
        .string({ error: 'values must be strings' })
        .refine((v) => Buffer.byteLength(v) <= MAX_MAKE_ARG_VALUE_BYTES, `values must be at most ${MAX_MAKE_ARG_VALUE_BYTES} bytes`)
        .refine((v) => !/[\x00-\x08\x0a-\x1f\x7f]/.test(v), 'values are one line (no control characters but tab)')
        .refine((v) => !SHELL_SYNTAX.test(v), `values may not hold ${SHELL_SYNTAX_SHOWN}: make pastes a value into the recipe's shell text wherever the Makefile writes $(NAME), where these would run commands`),
      'values',
    ),
  )
  .refine((a) => Object.keys(a).length <= MAX_MAKE_ARGS, `at most ${MAX_MAKE_ARGS} variables`)
  .meta({
    description:
      'Make variables, as `make <target> NAME=value` sets them (they override the Makefile\'s). Each reaches make as one argv word, never shell text. Names of letters, digits and `_`; SHELL, MAKE*, MFLAGS, GNUMAKEFLAGS, VPATH, CURDIR and SUFFIXES are refused. Values are one line without `$`, backquote, `\\`, quotes, `;`, `&`, `|`, `<`, `>`, `(` or `)`: make pastes a value into its recipes\' shell text, so those could run commands whatever vmo does.',
    example: { VERSION: '1.2.3', ENV: 'staging' },
  });

export const RunTargetInput = z
  .object({
    args: MakeArgs.default({}),
    timeoutMs: z.number().int().min(1000).max(7 * 24 * 3_600_000).optional().meta({ description: 'Stop make after this long (default: a job\'s, 1 h)' }),
  })
  .strict();
export type RunTargetInput = z.infer<typeof RunTargetInput>;

/** Default bound on a discovery (GET …/targets waits for it); `?timeoutMs=` changes it. Here: the contracts load it. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 30_000;
export const MAX_DISCOVERY_TIMEOUT_MS = 300_000;

export const MAX_REGISTRY_BYTES = 256 * 1024;
export const RegistryImportInput = z
  .object({
    target: TargetInput,
    registry: storableText(z.string().refine((s) => Buffer.byteLength(s) <= MAX_REGISTRY_BYTES, `must be at most ${MAX_REGISTRY_BYTES} bytes`)).meta({
      description: 'The registry file: `alias=directory` lines; `#` starts a comment (a whole line, or after a blank); blank lines are skipped',
      example: '# projects on web-1\nweb=/srv/web\napi=~/src/api\n',
    }),
  })
  .strict();
export type RegistryImportInput = z.infer<typeof RegistryImportInput>;
