import type { Command } from 'commander';
import { VmoApiError } from '@vmo/client';
import type { Run, RunListItem, RunSummary } from '@vmo/shared/api';
import { connect } from '../connect.ts';
import { formatSummary } from '../fleet/print-summary.ts';
import { colours } from '../output/colour.ts';
import { ago, labelText, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';
import { checkPaging, DEFAULT_LIMIT, elapsedMs, fetchRows, formatDuration, parseLimit, printFields, statusColour, when, type PagingOptions } from './jobs.ts';

/** What the run was asked to run on, as given: `selector env=prod`, `agents web-1,web-2`, `hosts db-1`. */
export function runTargets(run: Pick<RunListItem, 'targets'>): string {
  const t = run.targets;
  const parts = [
    t.selector !== undefined ? `selector ${t.selector}${t.kinds ? ` (${t.kinds.join(', ')})` : ''}` : undefined,
    t.agents?.length ? `agents ${t.agents.join(',')}` : undefined,
    t.hosts?.length ? `hosts ${t.hosts.join(',')}` : undefined,
  ].filter(Boolean);
  return parts.join('; ') || '-';
}

/** The strategy as the run obeys it: `concurrency 10, max errors 1, canary 1 (bake 30.0s)`. */
export function runStrategy(run: Pick<RunListItem, 'strategy'>): string {
  const r = run.strategy.resolved;
  const given = run.strategy.given;
  const pct = (v: number | string | undefined) => (typeof v === 'string' ? ` (${v})` : '');
  return [
    `concurrency ${r.maxConcurrency}${pct(given.maxConcurrency)}`,
    `max errors ${r.maxErrors ?? 'none'}${pct(given.maxErrors)}`,
    r.canary === null ? 'no canary' : `canary ${r.canary.count}${pct(given.canary?.count)} (bake ${formatDuration(r.canary.bakeMs)})`,
  ].join(', ');
}

const COMMAND_WIDTH = 60;
const cut = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

const RUN_COLUMNS: Column<RunListItem>[] = [
  { header: 'ID', value: (r) => r.id },
  { header: 'STATUS', value: (r) => r.status, colour: (r, c) => statusColour(r.status, c) },
  { header: 'TARGETS', value: (r) => String(r.total) },
  { header: 'CREATED', value: (r) => ago(r.createdAt) },
  { header: 'DURATION', value: (r) => formatDuration(elapsedMs(r.startedAt, r.finishedAt)) },
  { header: 'ASKED FOR', value: runTargets, wide: true },
  { header: 'STRATEGY', value: runStrategy, wide: true },
  { header: 'ERROR', value: (r) => r.error?.code ?? '-', wide: true },
  { header: 'CREATOR', value: (r) => r.createdBy ?? '-', wide: true },
  { header: 'COMMAND', value: (r) => cut(r.command, COMMAND_WIDTH) },
];
const WIDE_RUN_COLUMNS: Column<RunListItem>[] = [...RUN_COLUMNS.slice(0, -1), { header: 'COMMAND', value: (r) => r.command }];

function runFields(run: Run, wide: boolean): [string, string][] {
  const counts = Object.entries(run.counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${status} ${n}`)
    .join(', ');
  const fields: [string, string][] = [
    ['ID', run.id],
    ['Status', run.status],
    ['Command', run.command],
    ['Targets', `${run.total}: ${runTargets(run)}`],
    ['Progress', `${run.progress.done}/${run.progress.total} done`],
    ['Counts', counts || '-'],
    ['Strategy', runStrategy(run)],
  ];
  if (run.error) fields.push(['Error', `${run.error.code}: ${run.error.message}`]);
  fields.push(
    ['Created', when(run.createdAt)],
    ['Started', when(run.startedAt)],
    ['Finished', when(run.finishedAt)],
    ['Duration', formatDuration(elapsedMs(run.startedAt, run.finishedAt)) + (run.startedAt !== null && run.finishedAt === null ? ' (running)' : '')],
    ['Creator', run.createdBy ?? '-'],
  );
  if (run.canaryPassedAt !== null) fields.push(['Canary passed', when(run.canaryPassedAt)]);
  if (run.cancelRequestedAt !== null) fields.push(['Cancel asked', when(run.cancelRequestedAt)]);
  if (wide) {
    fields.push(
      ['Offline agents', run.offline + (run.dispatchTimeoutMs === null ? '' : ` (wait ${formatDuration(run.dispatchTimeoutMs)})`)],
      ['Cwd', run.cwd ?? '-'],
      ['Timeout', formatDuration(run.timeoutMs)],
      ['Env', Object.keys(run.env).sort().map((k) => `${k}=${run.env[k]}`).join(' ') || '-'],
      ['Secret env', run.secretEnvNames.join(', ') || '-'],
      ['Labels', labelText(run.labels) || '-'],
    );
  }
  return fields;
}

export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .summary('list fleet runs and show one')
    .description('Fleet runs: one command on every target a selector or list named (vmo run --selector …), one child job per target.')
    .addHelpText('after', '\nExamples:\n  vmo runs ls --status running\n  vmo runs show run_0123456789abcdefghij');

  withListOutput(
    runs
      .command('ls')
      .alias('list')
      .summary('list runs, newest first')
      .description(`The runs you may see, newest first: id, status, number of targets, age, duration, command. At most ${DEFAULT_LIMIT} unless --limit or --all. -o wide: what was asked for, the strategy, the error, the creator.`)
      .option('--status <status[,status]>', 'only these statuses: queued, running, succeeded, failed, canceled')
      .option('--limit <n>', `at most n runs (default ${DEFAULT_LIMIT})`, parseLimit)
      .option('--all', 'every run (page by page)'),
  )
    .addHelpText('after', '\nExamples:\n  vmo runs ls\n  vmo runs ls --status failed --limit 5 -o wide\n  vmo runs ls --json | jq -r \'.[] | select(.status == "running") | .id\'')
    .action(async (opts: ListOptions & PagingOptions & { status?: string }, command: Command) => {
      const format = outputFormat(opts);
      checkPaging(opts);
      const { client } = await connect(command);
      const { rows, more } = await fetchRows(opts, (q) => client.runs.list({ ...(opts.status !== undefined && { status: opts.status as RunListItem['status'] }), ...q }));
      printList(rows, format === 'wide' ? WIDE_RUN_COLUMNS : RUN_COLUMNS, format, { empty: 'no runs' });
      if (more && format !== 'json') process.stderr.write(`(the ${rows.length} newest; --limit N or --all for more)\n`);
    });

  withListOutput(
    runs
      .command('show')
      .alias('get')
      .summary('show a run and its results')
      .description(
        [
          'One run: status, command, targets, progress, children by status, strategy, times; then its results: the children grouped by status and exit code, with their targets and each distinct output (the run summary). -o wide: env, labels, cwd, timeout, offline policy.',
          '--json: the run as GET /v1/runs/{id} answers it, with GET /v1/runs/{id}/summary under "summary" (null when the server could not make it in time).',
        ].join('\n'),
      )
      .argument('<run>', 'a run id (run_…)'),
  )
    .addHelpText('after', '\nExamples:\n  vmo runs show run_0123456789abcdefghij\n  vmo runs show run_0123456789abcdefghij --json | jq \'.summary.groups[] | {status, exitCode, count}\'\n  vmo jobs ls --run run_0123456789abcdefghij --all   every child')
    .action(async (id: string, opts: ListOptions, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const run = await client.runs.get(id);
      let summary: RunSummary | null = null;
      try {
        summary = await client.runs.summary(id);
      } catch (err) {
        // The first summary of a run with gigabytes of output may take longer than the server allows (503
        // summary_timeout): the run is still shown, and says so.
        if (!(err instanceof VmoApiError && err.status === 503)) throw err;
        process.stderr.write(`vmo: ${err.code}: ${err.message} (the results are left out; try again)\n`);
      }
      if (format === 'json') return printJson({ ...run, summary });
      printFields(runFields(run, format === 'wide'), run.status);
      if (summary) process.stdout.write(`\nResults:\n${formatSummary(summary, colours(process.stdout))}`);
    });
}
