/**
 * `vmo completion bash|zsh|fish`: a completion script made from the program's own command tree
 * (every command, subcommand, alias and option as registered), so it never drifts from the CLI.
 * The three scripts share one shape: walk the words before the cursor to the deepest command they
 * name (skipping an option's value, stopping at `--`), then offer that command's subcommands, its
 * options, or an option's choices.
 */
import { Argument, type Command, type Option } from 'commander';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export interface CompletionOption {
  /** `--status`, `-o`: every spelling of the flag. */
  flags: string[];
  /** The spelling offered: the long one when there is one. */
  name: string;
  takesValue: boolean;
  choices: string[];
  description: string;
}

export interface CompletionCommand {
  /** Words from the program to here (`['jobs', 'ls']`); the program itself is `[]`. */
  path: string[];
  name: string;
  aliases: string[];
  description: string;
  /** Its own options, the program's (global) ones, and --help. */
  options: CompletionOption[];
  subcommands: CompletionCommand[];
  /** Choices of its first argument, if it has them (`vmo completion <shell>`). */
  argChoices: string[];
}

const HELP: CompletionOption = { flags: ['-h', '--help'], name: '--help', takesValue: false, choices: [], description: 'show the usage and an example' };

function optionOf(o: Option): CompletionOption {
  const flags = [o.short, o.long].filter((f): f is string => f !== undefined);
  return { flags, name: o.long ?? o.short!, takesValue: o.required || o.optional, choices: o.argChoices ?? [], description: firstLine(o.description) };
}

const firstLine = (text: string) => text.split('\n')[0]!.trim();
const isHidden = (c: Command) => (c as unknown as { _hidden?: boolean })._hidden === true;

/** The program's tree as completion needs it. */
export function completionTree(program: Command): CompletionCommand {
  // The program's options parse anywhere on the line (--server, --token, --context); --version only after vmo.
  const globals = program.options.filter((o) => !o.hidden && o.long !== '--version').map(optionOf);
  const walk = (cmd: Command, path: string[]): CompletionCommand => {
    const own = cmd.options.filter((o) => !o.hidden && (path.length === 0 ? o.long === '--version' : true)).map(optionOf);
    const args = (cmd.registeredArguments ?? []) as readonly Argument[];
    return {
      path,
      name: cmd.name(),
      aliases: cmd.aliases(),
      description: firstLine(cmd.summary() || cmd.description()),
      options: [...own, ...globals, HELP],
      subcommands: cmd.commands.filter((c) => !isHidden(c)).map((c) => walk(c, [...path, c.name()])),
      argChoices: args[0]?.argChoices ?? [],
    };
  };
  return walk(program, []);
}

const all = (c: CompletionCommand): CompletionCommand[] => [c, ...c.subcommands.flatMap(all)];

/** `'text'` for sh, bash, zsh and fish alike (fish reads `\'` inside single quotes, the others `'\''`). */
const sq = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
const fq = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** Names are plain words (letters, digits, - _ . :): checked, so nothing in them needs quoting in a case pattern. */
function checkWord(word: string): string {
  if (!/^[A-Za-z0-9_.:-]+$/.test(word)) throw new Error(`completion: "${word}" is not a plain word`);
  return word;
}

/** Case arms shared by bash and zsh: `"path/word") REPLY=…;;` — the lookups the walk needs. */
function shCaseTables(root: CompletionCommand, fn: string): string {
  const cmds = all(root);
  const key = (c: CompletionCommand) => c.path.map(checkWord).join(' ');
  const child = cmds.flatMap((c) =>
    c.subcommands.map((s) => `    ${[s.name, ...s.aliases].map((n) => `"${key(c)}/${checkWord(n)}"`).join('|')}) REPLY="${key(s)}" ;;`),
  );
  const subcommands = cmds.filter((c) => c.subcommands.length > 0).map((c) => `    "${key(c)}") REPLY="${c.subcommands.map((s) => s.name).join(' ')}" ;;`);
  const options = cmds.map((c) => `    "${key(c)}") REPLY="${c.options.map((o) => checkWord(o.name)).join(' ')}" ;;`);
  const valueOptions = cmds.map((c) => `    "${key(c)}") REPLY=" ${c.options.filter((o) => o.takesValue).flatMap((o) => o.flags.map(checkWord)).join(' ')} " ;;`);
  const choices = cmds.flatMap((c) => [
    ...c.options.filter((o) => o.choices.length > 0).map((o) => `    ${o.flags.map((f) => `"${key(c)}/${f}"`).join('|')}) REPLY="${o.choices.map(checkWord).join(' ')}" ;;`),
    ...(c.argChoices.length > 0 ? [`    "${key(c)}/") REPLY="${c.argChoices.map(checkWord).join(' ')}" ;;`] : []),
  ]);
  const table = (name: string, args: string, arms: string[]) => `${fn}_${name}() {\n  REPLY=""\n  case "${args}" in\n${arms.join('\n')}\n  esac\n}`;
  return [
    '# The command tree, from `vmo completion` (generated: do not edit).',
    table('child', '$1/$2', child),
    table('subcommands', '$1', subcommands),
    table('options', '$1', options),
    table('value_options', '$1', valueOptions),
    table('choices', '$1/$2', choices),
  ].join('\n');
}

export function bashScript(root: CompletionCommand): string {
  return `# vmo completion for bash. Load it with:  source <(vmo completion bash)
# or for good:  vmo completion bash > ~/.local/share/bash-completion/completions/vmo
${shCaseTables(root, '_vmo')}

_vmo() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" word i skip=0 REPLY
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$word" in
      --) return 0 ;; # the command's own words follow: nothing of vmo's to offer
      -*=*) continue ;;
      -*)
        _vmo_value_options "$cmdpath"
        [[ $REPLY == *" $word "* ]] && skip=1
        continue ;;
    esac
    _vmo_child "$cmdpath" "$word"
    [[ -n $REPLY ]] && cmdpath="$REPLY"
  done
  if ((skip)); then
    _vmo_choices "$cmdpath" "\${COMP_WORDS[COMP_CWORD-1]}"
    [[ -n $REPLY ]] && COMPREPLY=($(compgen -W "$REPLY" -- "$cur"))
    return 0
  fi
  if [[ $cur == -* ]]; then
    _vmo_options "$cmdpath"
  else
    _vmo_subcommands "$cmdpath"
    [[ -z $REPLY ]] && _vmo_choices "$cmdpath" ""
  fi
  COMPREPLY=($(compgen -W "$REPLY" -- "$cur"))
  return 0
}
# Nothing of vmo's to offer (an argument, the command after --): the shell's own (files).
complete -o bashdefault -o default -F _vmo vmo
`;
}

export function zshScript(root: CompletionCommand): string {
  const cmds = all(root);
  const key = (c: CompletionCommand) => c.path.join(' ');
  // _describe's items are `name:description` (a colon in a name escaped).
  const describe = (c: CompletionCommand, kind: 'subcommands' | 'options') => {
    const items = kind === 'subcommands' ? c.subcommands.map((s) => `${s.name}:${s.description}`) : c.options.map((o) => `${o.name.replaceAll(':', '\\:')}:${o.description}`);
    return `    "${kind}/${key(c)}") items=(${items.map(sq).join(' ')}) ;;`;
  };
  return `#compdef vmo
# vmo completion for zsh. Load it with:  source <(vmo completion zsh)   (after compinit)
# or for good:  vmo completion zsh > "\${fpath[1]}/_vmo"
${shCaseTables(root, '_vmo')}

_vmo_described() {
  local -a items
  case "$1/$2" in
${cmds.filter((c) => c.subcommands.length > 0).map((c) => describe(c, 'subcommands')).join('\n')}
${cmds.map((c) => describe(c, 'options')).join('\n')}
  esac
  (( \${#items} )) && _describe -t "$1" "vmo $1" items
}

_vmo() {
  local cmdpath="" word i skip=0 REPLY
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$word" in
      --) _normal; return ;;
      -*=*) continue ;;
      -*)
        _vmo_value_options "$cmdpath"
        [[ $REPLY == *" $word "* ]] && skip=1
        continue ;;
    esac
    _vmo_child "$cmdpath" "$word"
    [[ -n $REPLY ]] && cmdpath="$REPLY"
  done
  if ((skip)); then
    _vmo_choices "$cmdpath" "\${words[CURRENT-1]}"
    if [[ -n $REPLY ]]; then compadd -- \${=REPLY}; else _files; fi
    return
  fi
  if [[ "\${words[CURRENT]}" == -* ]]; then
    _vmo_described options "$cmdpath"
  else
    _vmo_subcommands "$cmdpath"
    if [[ -n $REPLY ]]; then
      _vmo_described subcommands "$cmdpath"
    else
      _vmo_choices "$cmdpath" ""
      if [[ -n $REPLY ]]; then compadd -- \${=REPLY}; else _files; fi
    fi
  fi
}

if [[ "\${funcstack[1]}" == _vmo ]]; then
  _vmo "$@"
else
  compdef _vmo vmo
fi
`;
}

export function fishScript(root: CompletionCommand): string {
  const cmds = all(root);
  const key = (c: CompletionCommand) => c.path.join(' ');
  const childArms = cmds.flatMap((c) => c.subcommands.map((s) => `        case ${[s.name, ...s.aliases].map((n) => fq(`${key(c)}/${n}`)).join(' ')}\n            printf '%s\\n' ${fq(key(s))}`));
  const valueFlags = cmds.flatMap((c) => c.options.filter((o) => o.takesValue).flatMap((o) => o.flags.map((f) => fq(`${key(c)}|${f}`))));
  const lines: string[] = [];
  for (const c of cmds) {
    const at = `-n ${fq(`__vmo_at ${fq(key(c))}`)}`;
    for (const s of c.subcommands) lines.push(`complete -c vmo ${at} -f -a ${fq(s.name)} -d ${fq(s.description)}`);
    if (c.argChoices.length > 0) lines.push(`complete -c vmo ${at} -f -a ${fq(c.argChoices.join(' '))}`);
    for (const o of c.options) {
      const flags = o.flags.map((f) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`)).join(' ');
      const value = o.choices.length > 0 ? ` -x -a ${fq(o.choices.join(' '))}` : o.takesValue ? ' -r' : '';
      lines.push(`complete -c vmo ${at} ${flags}${value} -d ${fq(o.description)}`);
    }
  }
  return `# vmo completion for fish. Load it with:  vmo completion fish | source
# or for good:  vmo completion fish > ~/.config/fish/completions/vmo.fish
# The command tree, from \`vmo completion\` (generated: do not edit).
set -g __vmo_value_flags ${valueFlags.join(' ')}

function __vmo_child
    switch "$argv[1]/$argv[2]"
${childArms.join('\n')}
    end
end

# The command the words before the cursor name ('' for vmo itself; '--' after a --).
function __vmo_path
    set -l cmdpath ''
    set -l skip 0
    set -l words (commandline -opc)
    set -e words[1]
    for word in $words
        if test $skip = 1
            set skip 0
            continue
        end
        switch $word
            case '--'
                printf '%s\\n' '--'
                return
            case '-*=*'
                continue
            case '-*'
                if contains -- "$cmdpath|$word" $__vmo_value_flags
                    set skip 1
                end
                continue
        end
        set -l next (__vmo_child "$cmdpath" $word)
        if test -n "$next"
            set cmdpath $next
        end
    end
    printf '%s\\n' $cmdpath
end

function __vmo_at
    set -l p (__vmo_path)
    test "$p" = "$argv[1]"
end

complete -c vmo -e
${lines.join('\n')}
`;
}

export function completionScript(shell: Shell, program: Command): string {
  const root = completionTree(program);
  return shell === 'bash' ? bashScript(root) : shell === 'zsh' ? zshScript(root) : fishScript(root);
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .summary('print a shell completion script (bash, zsh, fish)')
    .description('Print a script that completes vmo\'s commands, subcommands and options (and the choices of options that have them) in bash, zsh or fish. It is made from this vmo\'s own commands: regenerate it after an upgrade.')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText(
      'after',
      `
Examples:
  source <(vmo completion bash)                                    this shell (bash)
  vmo completion bash > ~/.local/share/bash-completion/completions/vmo
  source <(vmo completion zsh)                                     zsh, after compinit
  vmo completion fish > ~/.config/fish/completions/vmo.fish`,
    )
    .action((shell: string, _opts: unknown, command: Command) => {
      if (!(SHELLS as readonly string[]).includes(shell)) throw new CliError(`shell: "${shell}" is not one of ${SHELLS.join(', ')}`, ExitCode.usage, 'usage');
      // The program: this command's parent, with every command registered by now.
      let root = command;
      while (root.parent) root = root.parent;
      process.stdout.write(completionScript(shell as Shell, root));
    });
}
