import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Project } from '@vmo/shared/api';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { EXIT_CODE_HELP, ExitCode } from '../exit-codes.ts';
import { parseDuration } from '../job/duration.ts';
import { followNewJob } from '../job/run-job.ts';
import { ago, allPages, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';
import { parseTarget } from './run.ts';

/** `agent:web-1`, `host:db-1@prod`, `local`: a project's machine as `--on` takes it. */
const onText = (p: Project) => (p.target.type === 'agent' ? `agent:${p.target.agent}` : p.target.type === 'ssh' ? `host:${p.target.host}` : 'local');

const PROJECT_COLUMNS: Column<Project>[] = [
  { header: 'ALIAS', value: (p) => p.alias },
  { header: 'ON', value: onText },
  { header: 'DIR', value: (p) => p.dir },
  { header: 'TARGETS', value: (p) => (p.targetCount === null ? '-' : String(p.targetCount)) },
  { header: 'DISCOVERED', value: (p) => ago(p.discoveredAt) },
  { header: 'LIST COMMAND', value: (p) => p.listCommand ?? '-', wide: true },
  { header: 'ID', value: (p) => p.id, wide: true },
];

interface TargetRow {
  name: string;
  description: string;
  phony: boolean;
  file: string | null;
  line: number | null;
  isDefault: boolean;
}
const TARGET_COLUMNS: Column<TargetRow>[] = [
  { header: 'TARGET', value: (t) => `${t.name}${t.isDefault ? ' *' : ''}`, colour: (t, c) => (t.isDefault ? c.green : undefined) },
  { header: 'DESCRIPTION', value: (t) => t.description || '-' },
  { header: 'PHONY', value: (t) => (t.phony ? 'yes' : '-'), wide: true },
  { header: 'RECIPE', value: (t) => (t.file === null ? '-' : `${t.file}:${t.line}`), wide: true },
];

interface ImportRow {
  result: 'created' | 'updated' | 'unchanged' | 'skipped';
  alias: string;
  detail: string;
}
const IMPORT_COLUMNS: Column<ImportRow>[] = [
  { header: 'RESULT', value: (r) => r.result, colour: (r, c) => (r.result === 'created' ? c.green : r.result === 'updated' ? c.yellow : r.result === 'skipped' ? c.dim : undefined) },
  { header: 'ALIAS', value: (r) => r.alias },
  { header: 'DETAIL', value: (r) => r.detail },
];

/** `NAME=value` words after the target: make variables (the API checks the names). */
export function parseMakeArgs(words: readonly string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new CliError(`"${word}": after the target, only make variables NAME=value (VERSION=1.2)`, ExitCode.usage, 'usage');
    args[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return args;
}

function readText(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new CliError(`${path}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
  }
}

export function registerProjects(program: Command): void {
  const projects = program
    .command('projects')
    .summary('Makefile projects: list, add, remove, import; discover and run their targets')
    .description(
      "A project is a directory with a Makefile on a machine (an agent, an SSH host, or local), named by an alias. Its targets are discovered by a job there (GNU make's own database, or the project's list command) and run as jobs: `make <target>` with live output.",
    )
    .addHelpText('after', '\nExamples:\n  vmo projects add web /srv/web --on agent:web-1\n  vmo projects targets web\n  vmo projects run web deploy VERSION=1.2\n  vmo projects import ~/.mkcli/registry --on host:build@ci');

  withListOutput(projects.command('ls').alias('list').summary('list projects').description('Every project on a machine you may see: alias, machine, directory, how many targets the last discovery found and when (-o wide: list command, id).'))
    .addHelpText('after', '\nExamples:\n  vmo projects ls\n  vmo projects ls -o wide\n  vmo projects ls --json | jq -r \'.[].alias\'')
    .action(async (opts: ListOptions, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const rows = await allPages((cursor) => client.projects.list({ limit: 1000, ...(cursor ? { cursor } : {}) }));
      printList(rows, PROJECT_COLUMNS, format, { empty: 'no projects (vmo projects add or vmo projects import adds some)' });
    });

  projects
    .command('add')
    .summary('add a project')
    .description('Add a project: DIR on the machine --on names (absolute, or ~/… in the home of whoever runs jobs there). Nothing runs until its targets are asked for.')
    .argument('<alias>', 'its name (letters, digits, . _ -)')
    .argument('<dir>', 'the directory with the Makefile, on that machine')
    .requiredOption('--on <target>', 'the machine: agent:NAME, host:NAME[@ENV] or local')
    .option('--list-command <command>', "a command run in DIR that prints the targets, one per line with an optional description (mkcli's `<alias> --list-targets`); default: GNU make's database")
    .option('--json', 'print the project as one JSON document')
    .addHelpText('after', "\nExamples:\n  vmo projects add web /srv/web --on agent:web-1\n  vmo projects add api '~/src/api' --on host:build@ci --list-command 'mkcli api --list-targets'")
    .action(async (alias: string, dir: string, opts: { on: string; listCommand?: string; json?: boolean }, command: Command) => {
      const target = parseTarget(opts.on);
      const { client } = await connect(command);
      const project = await client.projects.create({ alias, dir, target, ...(opts.listCommand !== undefined ? { listCommand: opts.listCommand } : {}) });
      if (opts.json) return printJson(project);
      process.stdout.write(`${project.alias}: ${project.dir} on ${onText(project)} (vmo projects targets ${project.alias} discovers its targets)\n`);
    });

  projects
    .command('rm')
    .alias('remove')
    .summary('remove a project')
    .description('Remove a project. Its jobs stay.')
    .argument('<alias>')
    .action(async (alias: string, _opts: unknown, command: Command) => {
      const { client } = await connect(command);
      await client.projects.delete(alias);
      process.stdout.write(`${alias}: removed\n`);
    });

  projects
    .command('import')
    .summary('import an mkcli-style registry (alias=directory lines) for one machine')
    .description("One project per `alias=directory` line of FILE (- reads stdin), on the machine --on names. `#` comments and blank lines are skipped; $HOME is read as ~. Prints each project created, updated (its directory changed) or unchanged, and each line skipped with its number and why. All or nothing.")
    .argument('<file>', 'the registry file, or - for stdin')
    .requiredOption('--on <target>', 'the machine: agent:NAME, host:NAME[@ENV] or local')
    .option('--json', "the API's answer as one JSON document")
    .addHelpText('after', '\nExamples:\n  vmo projects import ~/.mkcli/registry --on agent:web-1\n  ssh web-1 cat .mkcli/registry | vmo projects import - --on agent:web-1')
    .action(async (file: string, opts: { on: string; json?: boolean }, command: Command) => {
      const target = parseTarget(opts.on);
      const registry = readText(file);
      const { client } = await connect(command);
      const result = await client.projects.import({ target, registry });
      if (opts.json) return printJson(result);
      const row = (result: ImportRow['result']) => (p: Project): ImportRow => ({ result, alias: p.alias, detail: p.dir });
      printList(
        [
          ...result.created.map(row('created')),
          ...result.updated.map(row('updated')),
          ...result.unchanged.map(row('unchanged')),
          ...result.skipped.map((s): ImportRow => ({ result: 'skipped', alias: s.alias ?? '-', detail: `line ${s.line}: ${s.reason}` })),
        ],
        IMPORT_COLUMNS,
        'table',
        { empty: 'no alias=directory line to import' },
      );
      process.stderr.write(`${file}: ${result.created.length} created, ${result.updated.length} updated, ${result.unchanged.length} unchanged, ${result.skipped.length} skipped\n`);
    });

  withListOutput(
    projects
      .command('targets')
      .summary("list a project's make targets")
      .description("The targets the last discovery found, or a discovery now (a job on the project's machine) when there are none or with --refresh. `*` marks the default goal (what a bare make builds). -o wide: phony, where the recipe is.")
      .argument('<alias>')
      .option('--refresh', 'discover again, even when targets are cached')
      .option('--timeout <duration>', 'how long a discovery may take (default 30s)'),
  )
    .addHelpText('after', '\nExamples:\n  vmo projects targets web\n  vmo projects targets web --refresh -o wide\n  vmo projects targets web --json | jq -r \'.targets[].name\'')
    .action(async (alias: string, opts: ListOptions & { refresh?: boolean; timeout?: string }, command: Command) => {
      const format = outputFormat(opts);
      const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout, '--timeout');
      const { client } = await connect(command);
      const found = await client.projects.targets(alias, { ...(opts.refresh ? { refresh: true } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
      const rows = found.targets.map((t) => ({ ...t, isDefault: t.name === found.defaultGoal }));
      printList(rows, TARGET_COLUMNS, format, { jsonValue: found, empty: `${alias}: no targets found` });
      if (format !== 'json') process.stderr.write(`${alias}: ${found.targets.length} targets, ${found.cached ? 'discovered' : 'discovered now'} ${ago(found.discoveredAt)} by job ${found.jobId}${found.source === 'list_command' ? ' (list command)' : ''}\n`);
    });

  projects
    .command('run')
    .summary('run `make TARGET` in a project and stream its output')
    .description(
      "Run `make TARGET NAME=value …` in the project's directory, as a job on its machine, and stream its output (stdout to stdout, stderr to stderr); vmo exits with make's exit code. TARGET must be one the discovery found. Each NAME=value is a make variable, passed to make as one word (never shell text). Ctrl-C cancels the job; a second Ctrl-C detaches.",
    )
    .argument('<alias>')
    .argument('<target>')
    .argument('[vars...]', 'make variables: NAME=value')
    .option('--timeout <duration>', 'stop make after this long (90s, 10m, 1h30m); default 1h')
    .option('-d, --detach', 'print the job id and return at once')
    .option('--json', 'with --detach: print the job as the API answered')
    .addHelpText('after', `\nExamples:\n  vmo projects run web build\n  vmo projects run web deploy VERSION=1.2 ENV=staging\n  vmo projects run --detach web test      prints the job id (vmo logs -f ID)\n\n${EXIT_CODE_HELP}`)
    .action(async (alias: string, target: string, vars: string[], opts: { timeout?: string; detach?: boolean; json?: boolean }, command: Command) => {
      const args = parseMakeArgs(vars);
      const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout, '--timeout');
      if (opts.json && !opts.detach) throw new CliError("--json is for --detach (without it, stdout is make's output)", ExitCode.usage, 'usage');
      const { client } = await connect(command);
      process.exitCode = await followNewJob(client, () => client.projects.run(alias, target, { args, ...(timeoutMs !== undefined ? { timeoutMs } : {}) }), { detach: opts.detach === true, json: opts.json === true });
    });
}
