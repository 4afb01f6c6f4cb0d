/**
 * Issue 12: `vmo completion bash|zsh|fish`. The scripts are made from the program's command tree,
 * so the test compares what each shell offers with that tree: bash's function called as bash calls
 * it (COMP_WORDS/COMP_CWORD), fish's `complete -C`, zsh's function with its completion builtins
 * stood in for; zsh and fish only where installed (a visible skip naming the missing shell), the
 * check that each script names every command always.
 * The real CLI runs once: `source <(vmo completion bash)` in bash.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { registerCommands } from '../src/commands/index.ts';
import { completionScript, completionTree, type CompletionCommand } from '../src/commands/completion.ts';
import { CLI_BIN, baseEnv } from './run-cli.ts';

const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

/** The program as main.ts assembles it: its global options and every command. */
function program(): Command {
  const p = new Command('vmo').version('0.0.0', '-V, --version').option('--server <url>', 'the API').option('--token <token>', 'a token').option('--context <name>', 'a context');
  registerCommands(p);
  return p;
}

const all = (c: CompletionCommand): CompletionCommand[] => [c, ...c.subcommands.flatMap(all)];
const quote = (w: string) => `'${w.replaceAll("'", `'\\''`)}'`;

describe('vmo completion', { timeout: 240_000 }, () => {
  let dir: string;
  let tree: CompletionCommand;
  let withSubcommands: CompletionCommand[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vmo-completion-'));
    tree = completionTree(program());
    withSubcommands = all(tree).filter((c) => c.subcommands.length > 0);
    // The tree is the program's: every command of it, jobs and runs with their subcommands.
    expect(tree.subcommands.map((c) => c.name)).toEqual(program().commands.map((c) => c.name()));
    expect(tree.subcommands.map((c) => c.name)).toEqual(expect.arrayContaining(['run', 'logs', 'cancel', 'jobs', 'runs', 'agents', 'hosts', 'targets', 'login', 'context', 'completion']));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('bash: `source <(vmo completion bash)` registers it, and vmo jo<TAB> offers jobs (the real CLI)', () => {
    const line = `source <(${quote(process.execPath)} ${quote(CLI_BIN)} completion bash) && complete -p vmo && COMP_WORDS=(vmo jo) && COMP_CWORD=1 && _vmo && printf '[%s]\\n' "\${COMPREPLY[@]}"`;
    const out = execFileSync('bash', ['-c', line], { env: baseEnv(), encoding: 'utf8', timeout: 180_000 });
    expect(out).toBe('complete -o bashdefault -o default -F _vmo vmo\n[jobs]\n');
  });

  it('bash: every command offers its subcommands, options and choices, as the tree has them', () => {
    const file = join(dir, 'vmo.bash');
    writeFileSync(file, completionScript('bash', program()));
    /** What `vmo <words…><TAB>` offers: the last word is the one being completed. */
    const cases: [string[], string[]][] = [
      [['jo'], ['jobs']],
      [[''], tree.subcommands.map((c) => c.name)],
      ...withSubcommands.map((c): [string[], string[]] => [[...c.path, ''], c.subcommands.map((s) => s.name)]),
      [['jobs', 'ls', '--'], ['--status', '--limit', '--all', '--run', '--target', '--json', '--output', '--server', '--token', '--context', '--help']],
      [['runs', 'show', '--j'], ['--json']],
      // An alias leads where its command does; an option's value is skipped, wherever it is.
      [['--server', 'http://x', 'jobs', 'list', '--st'], ['--status']],
      [['runs', 'ls', '--status', 'failed', '-o', ''], ['table', 'wide', 'json']],
      [['completion', ''], ['bash', 'zsh', 'fish']],
      [['--'], ['--version', '--server', '--token', '--context', '--help']],
      // After --, the words are the command's: vmo offers nothing of its own.
      [['run', '--on', 'local', '--', 'jo'], []],
    ];
    const script = cases
      .map(([words]) => `COMP_WORDS=(vmo ${words.map(quote).join(' ')}); COMP_CWORD=${words.length}; _vmo; printf '%s\\n' "\${COMPREPLY[*]}"`)
      .join('\n');
    const out = execFileSync('bash', ['-c', `source ${quote(file)}\n${script}`], { encoding: 'utf8', timeout: 60_000 }).split('\n');
    expect(cases.map(([words], i) => [words.join(' '), out[i]])).toEqual(cases.map(([words, offered]) => [words.join(' '), offered.join(' ')]));
  });

  it('zsh: the script names every command', () => {
    const text = completionScript('zsh', program());
    for (const c of all(tree).slice(1)) expect(text, c.path.join(' ')).toContain(`"${c.path.join(' ')}"`);
  });

  it.skipIf(!has('zsh'))(`zsh: the script parses, and _vmo offers what the tree has${has('zsh') ? '' : ' (skipped: zsh not installed)'}`, () => {
    const text = completionScript('zsh', program());
    const file = join(dir, '_vmo');
    writeFileSync(file, text);
    execFileSync('zsh', ['-n', file], { timeout: 60_000 });
    // Outside a completion widget: compdef, _describe and compadd stood in for, printing what they are given.
    const stubs = `compdef() { print -r -- "compdef $*"; }; source ${quote(file)}; _describe() { print -rl -- "\${(@P)\${@[-1]}}"; }; compadd() { print -r -- "$*"; }; _files() { print files; }`;
    const call = (words: string[]) => execFileSync('zsh', ['-c', `${stubs}\nwords=(vmo ${words.map(quote).join(' ')}); CURRENT=${words.length + 1}; _vmo`], { encoding: 'utf8', timeout: 60_000 });
    const root = call(['']).trimEnd().split('\n');
    expect(root[0]).toBe('compdef _vmo vmo');
    expect(root.slice(1).map((l) => l.split(':')[0])).toEqual(tree.subcommands.map((c) => c.name));
    expect(root).toContain('jobs:list jobs and show one');
    expect(call(['jobs', '']).trimEnd().split('\n').slice(1).map((l) => l.split(':')[0])).toEqual(['ls', 'show']);
    expect(call(['--server', 'http://x', 'jobs', 'list', '--st']).split('\n')).toContain('--status:only these statuses: queued, running, succeeded, failed, canceled, timed_out, lost, skipped');
    expect(call(['jobs', 'ls', '-o', '']).trimEnd().split('\n')[1]).toBe('-- table wide json');
  });

  it('fish: the script names every command', () => {
    const text = completionScript('fish', program());
    for (const c of all(tree).slice(1)) expect(text, c.path.join(' ')).toContain(`-a '${c.name}'`);
  });

  it.skipIf(!has('fish'))(`fish: the script parses, and complete -C offers what the tree has${has('fish') ? '' : ' (skipped: fish not installed)'}`, () => {
    const text = completionScript('fish', program());
    const file = join(dir, 'vmo.fish');
    writeFileSync(file, text);
    execFileSync('fish', ['-n', file], { timeout: 60_000 });
    const complete = (line: string) =>
      execFileSync('fish', ['--no-config', '-c', `source ${quote(file)}; complete -C ${quote(line)}`], { encoding: 'utf8', timeout: 60_000 })
        .trimEnd()
        .split('\n')
        .map((l) => l.split('\t')[0]);
    expect(complete('vmo jo')).toEqual(['jobs']);
    expect(complete('vmo ').sort()).toEqual(tree.subcommands.map((c) => c.name).sort());
    for (const c of withSubcommands.slice(1)) expect(complete(`vmo ${c.path.join(' ')} `).sort(), c.path.join(' ')).toEqual(c.subcommands.map((s) => s.name).sort());
    expect(complete('vmo --server http://x jobs list --st')).toEqual(['--status']);
    expect(complete('vmo runs ls -o ').sort()).toEqual(['json', 'table', 'wide']);
    expect(complete('vmo completion ').sort()).toEqual(['bash', 'fish', 'zsh']);
  });
});
