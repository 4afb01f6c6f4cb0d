import { readFileSync } from 'node:fs';
import type { Command as Program } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { VmoClient } from '@vmo/client';
import type { Command, CommandRun } from '@vmo/shared/api';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode, EXIT_CODE_HELP } from '../exit-codes.ts';
import { followNewRun } from '../fleet/run-fleet.ts';
import { COMMAND_LINE_HELP, commandLine } from '../job/command-line.ts';
import { parseDuration } from '../job/duration.ts';
import { parseAt, parsePriority } from '../job/run-at.ts';
import { followNewJob } from '../job/run-job.ts';
import { labelText, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';
import { checkPaging, DEFAULT_LIMIT, fetchRows, parseLimit, printFields, when, type PagingOptions } from './jobs.ts';
import { parseTarget } from './run.ts';
import { runTargets } from './runs.ts';

/**
 * `vmo commands ls|show|add|rm|versions|run`: saved commands (issue 15), named scripts with typed
 * parameters, versioned. `run` follows the job (or the fleet run) as `vmo run` does, with its exit
 * status; parameters go as `--param name=value` and reach the script as $VMO_PARAM_<NAME>.
 */

type CreateBody = Parameters<VmoClient['commands']['create']>[0];
type Param = Command['params'][number];
type RunBody = NonNullable<Parameters<VmoClient['commands']['run']>[1]>;

const usage = (message: string) => new CliError(message, ExitCode.usage, 'usage');
const collect = (value: string, previous: string[]) => [...previous, value];

/** Where a command runs when a run names nothing: `agent:web-1`, `host:db-1@prod`, `local`, `selector role=web`; `-` for none; `(hidden)` for a machine the caller may not read. */
export function defaultTargetText(t: Command['defaultTarget'], hidden?: boolean): string {
  if (hidden) return '(hidden)';
  if (t === null) return '-';
  if ('type' in t) return t.type === 'local' ? 'local' : t.type === 'agent' ? `agent:${t.agent}` : `host:${t.host}`;
  return runTargets({ targets: t });
}

/** `host:string!`, `count:int=3`, `mode:enum(fast|safe)`, `token:secret!`. */
export function paramText(p: Param): string {
  const type = p.type === 'enum' ? `enum(${p.values.join('|')})` : p.type === 'string' && p.secret ? 'secret' : p.type;
  const dflt = p.default === undefined ? '' : `=${String(p.default)}`;
  return `${p.name}:${type}${p.required ? '!' : ''}${dflt}`;
}

const cut = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

const COLUMNS: Column<Command>[] = [
  { header: 'NAME', value: (c) => c.name },
  { header: 'VERSION', value: (c) => String(c.version) },
  { header: 'PARAMS', value: (c) => c.params.map((p) => p.name).join(',') || '-' },
  { header: 'DEFAULT TARGET', value: (c) => defaultTargetText(c.defaultTarget, c.defaultTargetHidden) },
  { header: 'OWNER', value: (c) => c.createdBy ?? '-', wide: true },
  { header: 'CHANGED', value: (c) => c.updatedAt, wide: true },
  { header: 'DESCRIPTION', value: (c) => cut(c.description ?? '', 60) },
];

type Version = Awaited<ReturnType<VmoClient['commands']['versions']>>['items'][number];
const VERSION_COLUMNS: Column<Version>[] = [
  { header: 'VERSION', value: (v) => String(v.version) },
  { header: 'WRITTEN', value: (v) => v.createdAt },
  { header: 'BY', value: (v) => v.createdBy ?? '-' },
  { header: 'PARAMS', value: (v) => v.params.map(paramText).join(' ') || '-' },
  { header: 'SCRIPT', value: (v) => cut(v.script, 60) },
];

function printCommand(c: Command, wide: boolean): void {
  const fields: [string, string][] = [
    ['Name', c.name],
    ['Version', String(c.version)],
    ['Description', c.description ?? '-'],
    ['Default target', defaultTargetText(c.defaultTarget, c.defaultTargetHidden)],
    ['Timeout', c.timeoutMs === null ? '-' : `${c.timeoutMs} ms`],
    ['Labels', labelText(c.labels) || '-'],
    ['Owner', c.createdBy ?? '-'],
    ['Created', when(c.createdAt)],
    ['Changed', `${when(c.updatedAt)} by ${c.updatedBy ?? '-'}`],
  ];
  printFields(fields);
  process.stdout.write('\nParameters (each reaches the script as $VMO_PARAM_<NAME>):\n');
  if (c.params.length === 0) process.stdout.write('  none\n');
  for (const p of c.params) {
    const extra = [p.type === 'string' && p.pattern ? `pattern ${p.pattern}` : '', p.type === 'int' && (p.min !== undefined || p.max !== undefined) ? `range ${p.min ?? '…'}..${p.max ?? '…'}` : '', wide && p.description ? p.description : '']
      .filter(Boolean)
      .join('; ');
    process.stdout.write(`  ${paramText(p)}${extra ? `  (${extra})` : ''}\n`);
  }
  process.stdout.write(`\nScript:\n${c.script.replace(/^/gm, '  ')}\n`);
}

/**
 * `--param` on `add`: `NAME[:TYPE][!][=DEFAULT]`, TYPE one of string (default), int, bool,
 * secret (a secret string), enum(a|b|c); `!` required. A pattern, a range or a description needs
 * --file.
 */
export function parseParamSpec(spec: string): Param {
  const m = /^([a-z][a-z0-9_]*)(?::(string|int|bool|secret|enum\(([^)]*)\)))?(!)?(?:=(.*))?$/s.exec(spec);
  if (!m) throw usage(`--param: "${spec}" is not NAME[:TYPE][!][=DEFAULT] (TYPE: string, int, bool, secret, enum(a|b)); for a pattern or a range, use --file`);
  const [, name, type = 'string', values, required, dflt] = m;
  const base = { name: name!, required: required === '!' };
  if (type === 'int') {
    if (dflt !== undefined && !/^-?\d+$/.test(dflt)) throw usage(`--param ${name}: the default of an int must be a whole number`);
    return { ...base, type: 'int', ...(dflt !== undefined ? { default: Number(dflt) } : {}) };
  }
  if (type === 'bool') {
    if (dflt !== undefined && dflt !== 'true' && dflt !== 'false') throw usage(`--param ${name}: the default of a bool must be true or false`);
    return { ...base, type: 'bool', ...(dflt !== undefined ? { default: dflt === 'true' } : {}) };
  }
  if (type.startsWith('enum')) return { ...base, type: 'enum', values: values!.split('|'), ...(dflt !== undefined ? { default: dflt } : {}) };
  return { ...base, type: 'string', secret: type === 'secret', ...(dflt !== undefined ? { default: dflt } : {}) };
}

interface AddOptions {
  file?: string;
  script?: string;
  description?: string;
  param: string[];
  on?: string;
  selector?: string;
  timeout?: string;
  label: string[];
  update?: boolean;
  json?: boolean;
}

/** The body of POST (or PUT) /v1/commands from the command line or a YAML/JSON file; every flag checked before any server is asked. */
export function commandBody(nameArg: string | undefined, argv: string[], opts: AddOptions, onGiven: boolean): CreateBody {
  if (opts.file !== undefined) {
    const flags = ['script', 'description', 'selector', 'timeout'] as const;
    const given = [...flags.filter((f) => opts[f] !== undefined), ...(opts.param.length > 0 ? ['param'] : []), ...(opts.label.length > 0 ? ['label'] : []), ...(onGiven ? ['on'] : []), ...(argv.length > 0 ? ['-- SCRIPT'] : [])];
    if (given.length > 0) throw usage(`--file holds the whole command: leave out ${given.map((f) => (f.startsWith('-') ? f : `--${f}`)).join(', ')}`);
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new CliError(`--file: cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ExitCode.usage, 'usage');
    }
    let doc: unknown;
    try {
      // YAML 1.2 (a JSON file is YAML too), its core schema: data only, no tags that build objects.
      doc = parseYaml(text);
    } catch (err) {
      throw usage(`--file: ${opts.file} is not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw usage(`--file: ${opts.file} must hold one object: {name, script, params, defaultTarget, …}`);
    const body = doc as Record<string, unknown>;
    if (nameArg !== undefined && body.name !== undefined && body.name !== nameArg) throw usage(`the name ${JSON.stringify(nameArg)} and the file's name ${JSON.stringify(body.name)} differ: give one`);
    const name = nameArg ?? body.name;
    if (typeof name !== 'string') throw usage(`a name: as the argument, or as \`name:\` in ${opts.file}`);
    return { ...body, name } as CreateBody;
  }
  if (nameArg === undefined) throw usage('a name: vmo commands add NAME … -- SCRIPT (or --file with a name in it)');
  if (opts.script !== undefined && argv.length > 0) throw usage('--script and -- SCRIPT: give one');
  const script = opts.script ?? (argv.length > 0 ? commandLine(argv) : undefined);
  if (script === undefined) throw usage('the script: after -- (vmo commands add NAME -- \'echo "$VMO_PARAM_X"\'), or --script, or --file');
  if (onGiven && opts.selector !== undefined) throw usage('--on and --selector: give one default target');
  const labels: Record<string, string> = {};
  for (const pair of opts.label) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`--label: "${pair}" must be KEY=VALUE`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    name: nameArg,
    script,
    ...(opts.description !== undefined ? { description: opts.description } : {}),
    params: opts.param.map(parseParamSpec),
    ...(onGiven ? { defaultTarget: parseTarget(opts.on!) } : opts.selector !== undefined ? { defaultTarget: { selector: opts.selector } } : {}),
    ...(opts.timeout !== undefined ? { timeoutMs: parseDuration(opts.timeout, '--timeout') } : {}),
    ...(opts.label.length > 0 ? { labels } : {}),
  };
}

interface RunOptions {
  param: string[];
  paramFile: string[];
  on?: string;
  selector?: string;
  cmdVersion?: string;
  timeout?: string;
  at?: string;
  priority?: string;
  detach?: boolean;
  json?: boolean;
  stream?: boolean;
  maxConcurrency?: string;
  maxErrors?: string;
  offline?: string;
}

function countOrPercent(value: string, option: string): number | `${number}%` {
  if (/^\d+$/.test(value)) return Number(value);
  if (/^\d+%$/.test(value)) return value as `${number}%`;
  throw usage(`${option}: "${value}" must be a count (3) or a percentage (10%)`);
}

/** `--param k=v` (and `--param-file k=PATH`: the file's bytes, one trailing newline dropped) as the run's `params`: values as text, the server judges them. */
export function runParams(pairs: readonly string[], files: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage('--param: each must be NAME=VALUE (the value is not shown here)');
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  for (const pair of files) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage('--param-file: each must be NAME=PATH');
    const path = pair.slice(eq + 1);
    try {
      params[pair.slice(0, eq)] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw usage(`--param-file ${pair.slice(0, eq)}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return params;
}

/** The POST /v1/commands/{name}/run body; `fleet` when it names several targets (or says nothing, the command decides). */
export function runBody(opts: RunOptions, onGiven: boolean): RunBody {
  if (onGiven && opts.selector !== undefined) throw usage('--on and --selector: give one (--on is one target, --selector a fleet)');
  const strategy = {
    ...(opts.maxConcurrency !== undefined ? { maxConcurrency: countOrPercent(opts.maxConcurrency, '--max-concurrency') } : {}),
    ...(opts.maxErrors !== undefined ? { maxErrors: countOrPercent(opts.maxErrors, '--max-errors') } : {}),
  };
  if (opts.offline !== undefined && !['wait', 'skip', 'fail'].includes(opts.offline)) throw usage(`--offline: "${opts.offline}" must be wait, skip or fail`);
  if (opts.cmdVersion !== undefined && !/^[1-9]\d{0,8}$/.test(opts.cmdVersion)) throw usage(`--cmd-version: "${opts.cmdVersion}" must be a version number (1, 2, …)`);
  if (opts.json && !opts.detach) throw usage("--json is for --detach (without it, stdout is the command's output)");
  if (onGiven) {
    for (const fleetOnly of ['maxConcurrency', 'maxErrors', 'offline', 'stream'] as const) {
      if (opts[fleetOnly] !== undefined) throw usage(`--${fleetOnly.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for a fleet run: not with --on`);
    }
  }
  return {
    params: runParams(opts.param, opts.paramFile),
    ...(onGiven ? { target: parseTarget(opts.on!) } : {}),
    ...(opts.selector !== undefined ? { targets: { selector: opts.selector } } : {}),
    ...(opts.cmdVersion !== undefined ? { version: Number(opts.cmdVersion) } : {}),
    ...(opts.timeout !== undefined ? { timeoutMs: parseDuration(opts.timeout, '--timeout') } : {}),
    ...(opts.at !== undefined ? { runAt: parseAt(opts.at) } : {}),
    ...(opts.priority !== undefined ? { priority: parsePriority(opts.priority) } : {}),
    ...(Object.keys(strategy).length > 0 ? { strategy } : {}),
    ...(opts.offline !== undefined ? { offline: opts.offline as 'wait' | 'skip' | 'fail' } : {}),
  };
}

export function registerSavedCommands(program: Program): void {
  const commands = program
    .command('commands')
    .summary('saved commands: named scripts with typed parameters')
    .description(
      'Saved commands: a named script with typed parameters (string, int, bool, enum, secret), a default target (one machine, or a selector), a timeout and labels. Every change is a new version; a job records the name and version it ran. Parameters reach the script ONLY as environment variables $VMO_PARAM_<NAME>, never pasted into it.',
    )
    .addHelpText('after', "\nExamples:\n  vmo commands add docker-ps --param name:string! --on agent:web-1 -- 'docker ps --filter \"name=$VMO_PARAM_NAME\"'\n  vmo commands run docker-ps --param name=api\n  vmo commands ls");

  withListOutput(
    commands
      .command('ls')
      .alias('list')
      .summary('list saved commands by name')
      .description(`Every saved command at its latest version: name, version, parameters, default target, description. At most ${DEFAULT_LIMIT} unless --limit or --all; --agent or --host: those whose default target is that machine. -o wide: owner, last change.`)
      .option('--limit <n>', `at most n commands (default ${DEFAULT_LIMIT})`, parseLimit)
      .option('--all', 'every command (page by page)')
      .option('--agent <agent>', "the commands whose default target is this agent (name or id)")
      .option('--host <host>', 'the commands whose default target is this host (name, name@environment or id)'),
  )
    .addHelpText('after', "\nExamples:\n  vmo commands ls\n  vmo commands ls --agent web-1\n  vmo commands ls --json | jq -r '.[].name'")
    .action(async (opts: ListOptions & PagingOptions & { agent?: string; host?: string }, command: Program) => {
      const format = outputFormat(opts);
      checkPaging(opts);
      if (opts.agent !== undefined && opts.host !== undefined) throw usage('--agent and --host: give one');
      const { client } = await connect(command);
      if (opts.agent !== undefined || opts.host !== undefined) {
        const { items } = opts.agent !== undefined ? await client.commands.forAgent(opts.agent) : await client.commands.forHost(opts.host!);
        printList(items, COLUMNS, format, { empty: `no saved command has ${opts.agent ?? opts.host} as its default target` });
        return;
      }
      const { rows, more } = await fetchRows(opts, (q) => client.commands.list(q));
      printList(rows, COLUMNS, format, { empty: 'no saved commands (vmo commands add NAME -- SCRIPT makes one)' });
      if (more && format !== 'json') process.stderr.write(`(the first ${rows.length}; --limit N or --all for more)\n`);
    });

  withListOutput(commands.command('show').alias('get').summary('show a saved command').description('A command at its latest version: its parameters (as --param on add writes them), default target, timeout, labels, owner, and the script. -o wide: parameter descriptions. --json: as the API answers it.').argument('<name>'))
    .addHelpText('after', '\nExamples:\n  vmo commands show docker-ps\n  vmo commands show docker-ps --json | jq .params')
    .action(async (name: string, opts: ListOptions, command: Program) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const c = await client.commands.get(name);
      if (format === 'json') return printJson(c);
      printCommand(c, format === 'wide');
    });

  commands
    .command('add')
    .alias('create')
    .summary('save a command (or, with --update, its next version)')
    .description(
      [
        'Save a command: from flags (the script after --, or --script), or whole from a YAML or JSON file (--file: {name, description, script, params, defaultTarget, timeoutMs, labels}, as POST /v1/commands takes it).',
        '--param NAME[:TYPE][!][=DEFAULT], repeated: TYPE string (default), int, bool, secret (a string whose value is masked and never shown), enum(a|b|c); ! marks it required. Names are lower-case letters, digits and _; each value reaches the script as $VMO_PARAM_<NAME>. A pattern, a range or a description: use --file.',
        '--on (one machine) or --selector (a fleet) is where a run goes when it names nothing.',
        '--update writes the next version of an existing command instead (the whole command: what it leaves out is gone from the new version).',
      ].join('\n'),
    )
    .argument('[name]', 'the name (letters, digits, ".", "_", "-"); optional with --file when the file names it')
    .argument('[script...]', 'the script (after --)')
    .option('-f, --file <path>', 'the whole command as YAML or JSON')
    .option('--script <text>', 'the script (instead of after --)')
    .option('--description <text>', 'what it does')
    .option('-p, --param <spec>', 'a parameter: NAME[:TYPE][!][=DEFAULT] (repeat for several)', collect, [])
    .option('--on <target>', 'default target: local, agent:NAME or host:NAME')
    .option('-l, --selector <selector>', 'default target: every agent and host this label selector matches (a fleet run)')
    .option('--timeout <duration>', "a run's timeout unless the run gives one (90s, 10m, 1h30m)")
    .option('--label <K=V>', 'a label put on every job it starts (repeat for several)', collect, [])
    .option('--update', 'write the next version of an existing command (PUT)')
    .option('--json', 'print the command as the API answered, one JSON document')
    .addHelpText(
      'after',
      `
${COMMAND_LINE_HELP.replaceAll('vmo run --', 'vmo commands add NAME --').replace('The command:', 'The script:')}

Examples:
  vmo commands add docker-ps --description 'containers by name' --param name:string! --on agent:web-1 -- 'docker ps --filter "name=$VMO_PARAM_NAME"'
  vmo commands add restart --param service:enum(nginx|api)! --param force:bool=false --selector role=web --timeout 2m -- 'systemctl restart "$VMO_PARAM_SERVICE"'
  vmo commands add deploy --param token:secret! --on host:db-1@prod -- 'curl -fsS -H "Authorization: Bearer $VMO_PARAM_TOKEN" https://example.test/deploy'
  vmo commands add --file restart.yaml
  vmo commands add restart --file restart.yaml --update

A file (YAML):
  name: restart
  script: systemctl restart "$VMO_PARAM_SERVICE"
  params:
    - {name: service, type: enum, values: [nginx, api], required: true}
    - {name: host, type: string, pattern: '[a-z0-9.-]+'}
  defaultTarget: {selector: role=web}`,
    )
    .action(async (name: string | undefined, argv: string[], opts: AddOptions, command: Program) => {
      const body = commandBody(name, argv, opts, command.getOptionValueSource('on') === 'cli');
      const { client } = await connect(command);
      const { name: bodyName, ...definition } = body;
      const c = opts.update ? await client.commands.update(bodyName, definition) : await client.commands.create(body);
      if (opts.json) return printJson(c);
      process.stdout.write(`${c.name}: version ${c.version} ${opts.update ? 'written' : 'saved'}${c.params.length > 0 ? ` (params ${c.params.map(paramText).join(' ')})` : ''}\n`);
    });

  commands
    .command('rm')
    .alias('remove')
    .summary('delete a saved command')
    .description('Delete a command (its owner or an admin): it is no longer listed nor run; its versions stay readable (vmo commands versions NAME) for the jobs that ran them, and the name may be saved again, as its next version.')
    .argument('<name>')
    .addHelpText('after', '\nExamples:\n  vmo commands rm docker-ps')
    .action(async (name: string, _opts: unknown, command: Program) => {
      const { client } = await connect(command);
      await client.commands.delete(name);
      process.stdout.write(`${name}: deleted\n`);
    });

  withListOutput(
    commands
      .command('versions')
      .summary("a saved command's versions, newest first")
      .description('Every version as it was written (never changed afterwards), a deleted command\'s too: version, when, by whom, parameters, script. --json: the whole versions.')
      .argument('<name>')
      .option('--limit <n>', `at most n versions (default ${DEFAULT_LIMIT})`, parseLimit)
      .option('--all', 'every version (page by page)'),
  )
    .addHelpText('after', "\nExamples:\n  vmo commands versions docker-ps\n  vmo commands versions docker-ps --json | jq -r '.[1].script'")
    .action(async (name: string, opts: ListOptions & PagingOptions, command: Program) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const { rows, more } = await fetchRows(opts, (q) => client.commands.versions(name, { limit: q.limit, ...(q.cursor ? { cursor: Number(q.cursor) } : {}) }));
      printList(rows, VERSION_COLUMNS, format);
      if (more && format !== 'json') process.stderr.write(`(the ${rows.length} newest; --limit N or --all for more)\n`);
    });

  commands
    .command('run')
    .summary('run a saved command and stream its output')
    .description(
      "Run a saved command, as vmo run does: on one target its output byte for byte and vmo exits with the command's exit code; on several (--selector, or a command whose default target is a selector) a fleet run with a progress bar and a summary, exit 0 only if every target succeeded. Ctrl-C cancels, a second one detaches. --param NAME=VALUE for each parameter (an int or a bool as text: 3, true); the server judges each against its declaration. --param-file NAME=PATH reads a value (a secret) from a file instead of the command line, where ps would show it.",
    )
    .argument('<name>')
    .option('-p, --param <NAME=VALUE>', 'a parameter value (repeat for several)', collect, [])
    .option('--param-file <NAME=PATH>', "a parameter's value from a file (one trailing newline dropped)", collect, [])
    .option('--on <target>', 'one target instead of the default: local, agent:NAME or host:NAME')
    .option('-l, --selector <selector>', 'a fleet run on every agent and host this selector matches, instead of the default')
    // Not --version: that is the program's own (vmo --version), taken wherever it is written.
    .option('--cmd-version <n>', 'run this version of the command (default: the latest)')
    .option('--timeout <duration>', "stop it after this long (default: the command's timeout)")
    .option('--at <time>', 'start no earlier than this (as vmo run --at)')
    .option('--priority <1-10>', 'when workers or the target are busy, higher starts first (default 5)')
    .option('-d, --detach', 'print the job (or run) id and return at once')
    .option('--json', 'with --detach: print the API\'s answer ({kind, command, job|run}), one JSON document')
    .option('--stream', "fleet: print every target's output, each line prefixed by its name")
    .option('--max-concurrency <n|n%>', 'fleet: at most this many targets at once')
    .option('--max-errors <n|n%>', 'fleet: stop starting targets once more than this many failed')
    .option('--offline <wait|skip|fail>', 'fleet: what a target whose agent is offline does')
    .addHelpText(
      'after',
      `
Examples:
  vmo commands run docker-ps --param name=api                on its default target
  vmo commands run docker-ps --param name=api --on agent:web-2
  vmo commands run restart --param service=nginx --selector 'role=web,env=prod' --max-concurrency 1 --stream
  vmo commands run deploy --param-file token=./deploy.token
  vmo commands run docker-ps --cmd-version 2 --detach --json | jq -r .job.id

${EXIT_CODE_HELP}
  1        fleet: at least one target did not succeed`,
    )
    .action(async (name: string, opts: RunOptions, command: Program) => {
      const onGiven = command.getOptionValueSource('on') === 'cli';
      const body = runBody(opts, onGiven);
      const { client } = await connect(command);
      // A job or a fleet run? The flags say; else the command's default target (the server decides the same way).
      const fleet = opts.selector !== undefined || (!onGiven && (await isFleetDefault(client, name)));
      if (!fleet && opts.stream) throw usage(`--stream is for a fleet run: ${onGiven ? '--on names one target' : `${name}'s default target is one machine (give --selector)`}`);
      let answer: CommandRun | undefined;
      const jsonOf = () => answer;
      if (fleet) {
        process.exitCode = await followNewRun(client, async () => runOf((answer = await client.commands.run(name, body))), { detach: opts.detach === true, stream: opts.stream === true, json: opts.json === true, jsonOf });
      } else {
        process.exitCode = await followNewJob(client, async () => jobOf((answer = await client.commands.run(name, body))), { detach: opts.detach === true, json: opts.json === true, jsonOf });
      }
    });
}

/** Whether a run of the command with no target goes to several machines: its default target is run targets (a selector, lists). */
async function isFleetDefault(client: VmoClient, name: string): Promise<boolean> {
  const c = await client.commands.get(name);
  return c.defaultTarget !== null && !('type' in c.defaultTarget);
}

// The command changed between the look and the run (rare): say so rather than follow the wrong thing.
const jobOf = (a: CommandRun) => {
  if (a.kind === 'job') return a.job;
  throw new CliError(`the command's default target became several machines meanwhile: run ${a.run.id} was started (vmo runs show ${a.run.id})`);
};
const runOf = (a: CommandRun) => {
  if (a.kind === 'run') return a.run;
  throw new CliError(`the command's default target became one machine meanwhile: job ${a.job.id} was started (vmo logs -f ${a.job.id})`);
};
