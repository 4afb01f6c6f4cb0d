import { Option, type Command } from 'commander';
import type { VmoClient } from '@vmo/client';
import type { Schedule, ScheduleFire } from '@vmo/shared/api';
import { SCHEDULE_CATCH_UPS, SCHEDULE_OVERLAPS, type ScheduleCatchUp, type ScheduleOverlap } from '@vmo/shared/domain';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { COMMAND_LINE_HELP, commandLine } from '../job/command-line.ts';
import { parseDuration } from '../job/duration.ts';
import { parsePriority } from '../job/run-at.ts';
import { ago, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';
import { checkPaging, DEFAULT_LIMIT, fetchRows, parseLimit, printFields, statusColour, when, type PagingOptions } from './jobs.ts';
import { parseTarget } from './run.ts';
import { runTargets } from './runs.ts';

/**
 * `vmo schedules ls|show|add|pause|resume|trigger|rm`: a job or a fleet run on a cron schedule
 * (POST /v1/schedules and the rest). `add` takes what `vmo run` takes (--on or --selector, -e,
 * --cwd, --timeout, --priority, the fleet's strategy) plus when: --cron, --tz, --overlap, --catch-up.
 * A schedule is named by its id (sch_…) or its name.
 */

type ScheduleListItem = Awaited<ReturnType<VmoClient['schedules']['list']>>['items'][number];
type CreateBody = Parameters<VmoClient['schedules']['create']>[0];

const ID = /^sch_[0-9a-z]{20}$/;

/** "in 3s", "in 5m", "in 2h", "in 4d"; "now" once due; "-" for none. */
export function until(iso: string | undefined, now = Date.now()): string {
  if (iso === undefined) return '-';
  const s = Math.round((Date.parse(iso) - now) / 1000);
  if (s <= 0) return 'now';
  if (s < 60) return `in ${s}s`;
  if (s < 3600) return `in ${Math.floor(s / 60)}m`;
  if (s < 86_400) return `in ${Math.floor(s / 3600)}h`;
  return `in ${Math.floor(s / 86_400)}d`;
}

/** A time as the schedule's zone reads it: `2026-03-29 03:00:00`. */
function inZone(iso: string, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'medium' }).format(new Date(iso));
  } catch {
    return iso;
  }
}

/** Where each fire runs, as `vmo schedules add` takes it: `agent:web-1`, `host:db-1@prod`, `local`, or the run's targets. */
export function scheduleTarget(s: Pick<Schedule, 'job' | 'run'>): string {
  if (s.run) return runTargets(s.run);
  const t = s.job?.target;
  if (!t || t.type === 'local') return 'local';
  return t.type === 'agent' ? `agent:${t.agent}` : `host:${t.host}`;
}

const commandOf = (s: Pick<Schedule, 'job' | 'run'>) => s.job?.command ?? s.run?.command ?? '';

/** A fire in a word: its job's (run's) status, or what became of the tick (skipped, failed, pending). */
const fireWord = (f: ScheduleFire) => (f.outcome === 'fired' ? (f.status ?? 'fired') : f.outcome);

const COMMAND_WIDTH = 50;
const cut = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

const COLUMNS: Column<ScheduleListItem>[] = [
  { header: 'ID', value: (s) => s.id },
  { header: 'NAME', value: (s) => s.name },
  { header: 'CRON', value: (s) => s.cron },
  { header: 'TZ', value: (s) => s.timezone },
  { header: 'NEXT', value: (s) => (s.paused ? 'paused' : until(s.nextFires[0])), colour: (s, c) => (s.paused ? c.yellow : undefined) },
  { header: 'LAST', value: (s) => (s.lastFire ? `${fireWord(s.lastFire)} ${ago(s.lastFire.at)}` : '-'), colour: (s, c) => (s.lastFire ? statusColour(fireWord(s.lastFire), c) : undefined) },
  { header: 'TARGET', value: scheduleTarget },
  { header: 'OVERLAP', value: (s) => s.overlap, wide: true },
  { header: 'CATCH-UP', value: (s) => s.catchUp, wide: true },
  { header: 'OWNER', value: (s) => s.createdBy ?? '-', wide: true },
  { header: 'COMMAND', value: (s) => cut(commandOf(s), COMMAND_WIDTH) },
];
const WIDE_COLUMNS: Column<ScheduleListItem>[] = [...COLUMNS.slice(0, -1), { header: 'COMMAND', value: commandOf }];

const FIRE_COLUMNS: Column<ScheduleFire>[] = [
  { header: 'AT', value: (f) => `${f.at} (${ago(f.at)})` },
  { header: 'KIND', value: (f) => f.kind },
  { header: 'STATUS', value: fireWord, colour: (f, c) => statusColour(fireWord(f), c) },
  { header: 'MADE', value: (f) => f.runId ?? f.jobId ?? '-' },
  { header: 'REASON', value: (f) => f.reason?.message ?? '' },
];

function scheduleFields(s: Schedule, wide: boolean): [string, string][] {
  const fields: [string, string][] = [
    ['ID', s.id],
    ['Name', s.name],
    ['Cron', `${s.cron} (${s.timezone})`],
    ['Runs', `${s.run ? 'a fleet run on' : 'a job on'} ${scheduleTarget(s)}`],
    ['Command', commandOf(s)],
    ['Paused', s.paused ? 'yes' : 'no'],
    ['Overlap', s.overlap],
    ['Catch-up', s.catchUp],
    ['Owner', s.createdBy ?? '-'],
    ['Created', when(s.createdAt)],
    ['Changed', when(s.updatedAt)],
  ];
  if (wide) {
    const body = s.job ?? s.run!;
    fields.push(
      ['Cwd', body.cwd ?? '-'],
      ['Timeout', body.timeoutMs === undefined ? '-' : `${body.timeoutMs} ms`],
      ['Env', Object.keys(body.env ?? {}).sort().map((k) => `${k}=${body.env![k]}`).join(' ') || '-'],
    );
  }
  return fields;
}

function printSchedule(s: Schedule, wide: boolean): void {
  printFields(scheduleFields(s, wide));
  const next = s.nextFires.map((at) => `  ${inZone(at, s.timezone)} ${s.timezone}  (${at}, ${until(at)})`);
  process.stdout.write(`\nNext fires:\n${next.length > 0 ? next.join('\n') : s.paused ? '  none while paused' : '  none'}\n\nLast fires:\n`);
  if (s.lastFires.length === 0) process.stdout.write('  none yet\n');
  else printList(s.lastFires, FIRE_COLUMNS, 'table');
}

/**
 * A schedule named by its id, or by its name among those the caller may see (their own; an
 * admin's: everyone's, where two owners may use one name: then the id is needed).
 */
async function resolveId(client: VmoClient, ref: string): Promise<string> {
  if (ID.test(ref)) return ref;
  const { rows } = await fetchRows({ all: true }, (q) => client.schedules.list(q));
  const named = rows.filter((s) => s.name === ref);
  if (named.length === 1) return named[0]!.id;
  if (named.length === 0) throw new CliError(`no schedule named ${JSON.stringify(ref)} (vmo schedules ls lists them)`, ExitCode.cliError, 'not_found');
  throw new CliError(`${named.length} schedules are named ${JSON.stringify(ref)} (${named.map((s) => `${s.id} of ${s.createdBy ?? '?'}`).join(', ')}): give the id`, ExitCode.cliError, 'ambiguous');
}

interface AddOptions {
  cron: string;
  tz?: string;
  overlap?: ScheduleOverlap;
  catchUp?: ScheduleCatchUp;
  paused?: boolean;
  on?: string;
  selector?: string;
  env: string[];
  cwd?: string;
  timeout?: string;
  priority?: string;
  maxConcurrency?: string;
  maxErrors?: string;
  offline?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];
const usage = (message: string) => new CliError(message, ExitCode.usage, 'usage');

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage('--env: each must be NAME=VALUE (the value is not shown here)');
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

function countOrPercent(value: string, option: string): number | `${number}%` {
  if (/^\d+$/.test(value)) return Number(value);
  if (/^\d+%$/.test(value)) return value as `${number}%`;
  throw usage(`${option}: "${value}" must be a count (3) or a percentage (10%)`);
}

/** The POST /v1/schedules body from the command line; every flag checked before any server is asked. */
export function scheduleBody(name: string, argv: string[], opts: AddOptions, onGiven: boolean): CreateBody {
  const common = {
    command: commandLine(argv),
    ...(opts.env.length > 0 ? { env: parseEnv(opts.env) } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.timeout !== undefined ? { timeoutMs: parseDuration(opts.timeout, '--timeout') } : {}),
    ...(opts.priority !== undefined ? { priority: parsePriority(opts.priority) } : {}),
  };
  const timing = {
    name,
    cron: opts.cron,
    ...(opts.tz !== undefined ? { timezone: opts.tz } : {}),
    ...(opts.overlap !== undefined ? { overlap: opts.overlap } : {}),
    ...(opts.catchUp !== undefined ? { catchUp: opts.catchUp } : {}),
    ...(opts.paused ? { paused: true } : {}),
  };
  if (opts.selector !== undefined) {
    if (onGiven) throw usage('--on and --selector: give one (--on is one target, --selector a fleet)');
    const strategy = {
      ...(opts.maxConcurrency !== undefined ? { maxConcurrency: countOrPercent(opts.maxConcurrency, '--max-concurrency') } : {}),
      ...(opts.maxErrors !== undefined ? { maxErrors: countOrPercent(opts.maxErrors, '--max-errors') } : {}),
    };
    if (opts.offline !== undefined && opts.offline !== 'wait' && opts.offline !== 'skip' && opts.offline !== 'fail') throw usage(`--offline: "${opts.offline}" must be wait, skip or fail`);
    const offline = opts.offline as 'wait' | 'skip' | 'fail' | undefined;
    return { ...timing, run: { ...common, targets: { selector: opts.selector }, strategy, ...(offline ? { offline } : {}) } };
  }
  for (const fleetOnly of ['maxConcurrency', 'maxErrors', 'offline'] as const) {
    if (opts[fleetOnly] !== undefined) throw usage(`--${fleetOnly.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for a fleet run: give --selector too`);
  }
  return { ...timing, job: { ...common, target: parseTarget(opts.on ?? 'local') } };
}

/** One line on what a change did: `nightly (sch_…): paused`; with the next fire when there is one. */
const doneLine = (s: Schedule, what: string) => `${s.name} (${s.id}): ${what}${s.nextFires[0] ? `; next fire ${s.nextFires[0]} (${until(s.nextFires[0])})` : ''}\n`;

export function registerSchedules(program: Command): void {
  const schedules = program
    .command('schedules')
    .summary('run a job or a fleet run on a cron schedule')
    .description(
      'Schedules: a job (--on) or a fleet run (--selector) submitted at every tick of a cron expression, in a timezone, as the user who created it. Every worker runs the scheduler; each tick fires once. A schedule is named by its id (sch_…) or its name.',
    )
    .addHelpText('after', "\nExamples:\n  vmo schedules add nightly --cron '30 2 * * *' --tz Europe/Berlin --on agent:db-1 -- /usr/local/bin/backup.sh\n  vmo schedules ls\n  vmo schedules trigger nightly");

  withListOutput(
    schedules
      .command('ls')
      .alias('list')
      .summary('list schedules, newest first')
      .description(`Yours (an admin's: everyone's), newest first: id, name, cron and timezone, when it fires next, its last fire (its job's status, or skipped/failed) and how long ago, where it runs, the command. At most ${DEFAULT_LIMIT} unless --limit or --all. -o wide: overlap, catch-up, owner, the whole command.`)
      .option('--limit <n>', `at most n schedules (default ${DEFAULT_LIMIT})`, parseLimit)
      .option('--all', 'every schedule (page by page)'),
  )
    .addHelpText('after', "\nExamples:\n  vmo schedules ls\n  vmo schedules ls -o wide\n  vmo schedules ls --json | jq -r '.[] | select(.paused) | .name'")
    .action(async (opts: ListOptions & PagingOptions, command: Command) => {
      const format = outputFormat(opts);
      checkPaging(opts);
      const { client } = await connect(command);
      const { rows, more } = await fetchRows(opts, (q) => client.schedules.list(q));
      printList(rows, format === 'wide' ? WIDE_COLUMNS : COLUMNS, format, { empty: 'no schedules (vmo schedules add NAME --cron … -- COMMAND makes one)' });
      if (more && format !== 'json') process.stderr.write(`(the ${rows.length} newest; --limit N or --all for more)\n`);
    });

  withListOutput(
    schedules
      .command('show')
      .alias('get')
      .summary('show a schedule, its next and last fires')
      .description('One schedule: cron and timezone, what it runs and where, paused, overlap, catch-up, owner; its next five fires (in its timezone, and in UTC); its last ten fires with their jobs\' (or runs\') statuses, or why a tick made nothing. -o wide: cwd, timeout, env. --json: the schedule as the API answers it.')
      .argument('<schedule>', 'an id (sch_…) or a name'),
  )
    .addHelpText('after', "\nExamples:\n  vmo schedules show nightly\n  vmo schedules show nightly --json | jq -r '.lastFires[0].jobId'")
    .action(async (ref: string, opts: ListOptions, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const s = await client.schedules.get(await resolveId(client, ref));
      if (format === 'json') return printJson(s);
      printSchedule(s, format === 'wide');
    });

  schedules
    .command('add')
    .alias('create')
    .summary('create a schedule')
    .description(
      [
        'Create a schedule: at every tick of --cron (read in --tz, default UTC), submit the command as a job on one target (--on, as vmo run) or as a fleet run on every target a selector matches then (--selector). It fires as you, with your rights at each tick; it is checked now as a submission by you would be.',
        'cron: five fields (minute hour day-of-month month day-of-week), six with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly.',
        '--overlap, while the previous job or run has not ended: skip (default) records the tick as skipped, queue fires anyway, cancel_previous cancels it and fires. --catch-up, for ticks missed while no worker ran: none (default), or latest (fire once for the most recent).',
      ].join('\n'),
    )
    .argument('<name>', 'a name, unique among your schedules')
    .argument('<command...>', 'the command (after --)')
    .requiredOption('--cron <expression>', "when: '30 2 * * *', '*/15 * * * 1-5', '@daily'")
    .option('--tz <timezone>', 'the IANA timezone the expression is read in (default UTC): Europe/Berlin, America/New_York')
    .addOption(new Option('--overlap <policy>', 'while the previous one has not ended (default skip)').choices(SCHEDULE_OVERLAPS as unknown as string[]))
    .addOption(new Option('--catch-up <policy>', 'ticks missed while no worker ran (default none)').choices(SCHEDULE_CATCH_UPS as unknown as string[]))
    .option('--paused', 'create it paused (nothing fires until vmo schedules resume)')
    .option('--on <target>', 'a job on: local, agent:NAME or host:NAME (default local)')
    .option('-l, --selector <selector>', 'a fleet run on every agent and host this label selector matches at each tick')
    .option('-e, --env <K=V>', 'an environment variable for the command (repeat for several)', collect, [])
    .option('--cwd <dir>', 'the working directory on the target')
    .option('--timeout <duration>', 'stop each fire\'s command after this long (90s, 10m, 1h30m); the server default is 1h')
    .option('--priority <1-10>', 'when workers or the target are busy, higher starts first (default 5)')
    .option('--max-concurrency <n|n%>', 'fleet: at most this many targets at once')
    .option('--max-errors <n|n%>', 'fleet: stop starting targets once more than this many failed')
    .option('--offline <wait|skip|fail>', 'fleet: what a target whose agent is offline does')
    .option('--json', 'print the schedule as the API answered, one JSON document')
    .addHelpText(
      'after',
      `
${COMMAND_LINE_HELP}

Examples:
  vmo schedules add nightly-backup --cron '30 2 * * *' --tz Europe/Berlin --on agent:db-1 --timeout 2h -- /usr/local/bin/backup.sh
  vmo schedules add disk-check --cron '*/15 * * * 1-5' --overlap cancel_previous --selector env=prod --max-concurrency 25% -- 'df -h / | tail -1'
  vmo schedules add heartbeat --cron '*/10 * * * * *' --paused -- uptime      every 10 seconds, once resumed`,
    )
    .action(async (name: string, argv: string[], opts: AddOptions, command: Command) => {
      const body = scheduleBody(name, argv, opts, command.getOptionValueSource('on') === 'cli');
      const { client } = await connect(command);
      const s = await client.schedules.create(body);
      if (opts.json) return printJson(s);
      process.stdout.write(doneLine(s, s.paused ? 'created, paused' : 'created'));
    });

  const change = (verb: 'pause' | 'resume', summary: string, description: string) =>
    schedules
      .command(verb)
      .summary(summary)
      .description(description)
      .argument('<schedule>', 'an id (sch_…) or a name')
      .option('--json', 'print the schedule after the change, one JSON document')
      .addHelpText('after', `\nExamples:\n  vmo schedules ${verb} nightly-backup`)
      .action(async (ref: string, opts: { json?: boolean }, command: Command) => {
        const { client } = await connect(command);
        const id = await resolveId(client, ref);
        const s = verb === 'pause' ? await client.schedules.pause(id) : await client.schedules.resume(id);
        if (opts.json) return printJson(s);
        process.stdout.write(doneLine(s, verb === 'pause' ? 'paused' : 'resumed'));
      });
  change('pause', 'stop a schedule\'s ticks', 'Pause: no tick fires until it is resumed (vmo schedules trigger still fires it by hand).');
  change('resume', 'start a paused schedule again', 'Resume: ticks fire again from the next one after now; the ticks of the pause are not fired later.');

  schedules
    .command('trigger')
    .alias('fire')
    .summary('fire a schedule now')
    .description('Submit the schedule\'s job or run now, as a tick would (as its owner), and record it as a fire of kind trigger. The next tick still comes; overlap is not applied; a paused schedule may be triggered. Prints the job (or run) it made.')
    .argument('<schedule>', 'an id (sch_…) or a name')
    .option('--json', 'print the fire as the API answered (jobId or runId, status), one JSON document')
    .addHelpText('after', '\nExamples:\n  vmo schedules trigger nightly-backup\n  vmo logs -f "$(vmo schedules trigger nightly-backup --json | jq -r .jobId)"')
    .action(async (ref: string, opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const fire = await client.schedules.trigger(await resolveId(client, ref));
      if (opts.json) return printJson(fire);
      if (fire.runId) process.stdout.write(`fired run ${fire.runId} (vmo runs show ${fire.runId})\n`);
      else process.stdout.write(`fired job ${fire.jobId} (vmo logs -f ${fire.jobId})\n`);
    });

  schedules
    .command('rm')
    .alias('remove')
    .summary('delete a schedule')
    .description('Delete a schedule: no tick fires from now on and its fire history goes with it. The jobs and runs it made are left as they are.')
    .argument('<schedule>', 'an id (sch_…) or a name')
    .option('--json', 'print {"id", "name"} of the schedule deleted, one JSON document')
    .addHelpText('after', '\nExamples:\n  vmo schedules rm nightly-backup\n  vmo schedules rm sch_0123456789abcdefghij')
    .action(async (ref: string, opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const s = await client.schedules.get(await resolveId(client, ref));
      await client.schedules.delete(s.id);
      if (opts.json) return printJson({ id: s.id, name: s.name });
      process.stdout.write(`${s.name} (${s.id}): deleted\n`);
    });
}
