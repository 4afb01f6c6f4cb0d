import type { Command } from 'commander';
import type { Job } from '@vmo/shared/api';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { colours, type Colours } from '../output/colour.ts';
import { ago, labelText, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';

/** Rows a listing shows when neither --limit nor --all is given. */
export const DEFAULT_LIMIT = 20;
/** The most one page of the API holds (GET /v1/jobs and /v1/runs: 500). */
const PAGE_MAX = 500;

/** A status in its colour (on a terminal without NO_COLOR): green done, red failed, yellow stopped, plain while it waits or runs. */
export function statusColour(status: string, c: Colours): ((text: string) => string) | undefined {
  if (status === 'succeeded') return c.green;
  if (status === 'failed' || status === 'timed_out' || status === 'lost') return c.red;
  if (status === 'canceled' || status === 'skipped') return c.yellow;
  return undefined;
}

/** `850ms`, `12.3s`, `4m05s`, `2h03m`; `-` when there is no duration. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3_600)}h${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')}m`;
}

/** started → finished (or → now while it runs); null before it started. */
export function elapsedMs(startedAt: string | null, finishedAt: string | null, now = Date.now()): number | null {
  if (startedAt === null) return null;
  return (finishedAt === null ? now : Date.parse(finishedAt)) - Date.parse(startedAt);
}

/** A time as the API gives it (ISO, UTC) and how long ago: `2026-11-30T14:52:17.120Z (3m ago)`; `-` for none. */
export const when = (iso: string | null) => (iso === null ? '-' : `${iso} (${ago(iso)})`);

/** `--limit N`: a whole number of rows ≥ 1. */
export function parseLimit(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new CliError(`--limit: "${text}" is not a whole number ≥ 1`, ExitCode.usage, 'usage');
  return n;
}

export interface PagingOptions {
  limit?: number;
  all?: boolean;
}

/** `--all` with `--limit` is bad usage: checked before vmo looks for a server (exit 2 even with none). */
export function checkPaging(opts: PagingOptions): void {
  if (opts.all && opts.limit !== undefined) throw new CliError('--all and --limit ask for two sizes: give one', ExitCode.usage, 'usage');
}

/**
 * The rows a listing asked for, newest first, through the API's keyset cursor: at most `limit`
 * (default 20), or every page with `all`. `more`: the API has rows past the last one fetched.
 */
export async function fetchRows<T>(
  opts: PagingOptions,
  page: (q: { limit: number; cursor?: string }) => Promise<{ items: T[]; nextCursor: string | null }>,
  pageSize = PAGE_MAX,
): Promise<{ rows: T[]; more: boolean }> {
  checkPaging(opts);
  const cap = opts.all ? Infinity : (opts.limit ?? DEFAULT_LIMIT);
  const rows: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const p = await page({ limit: Math.min(pageSize, cap - rows.length), ...(cursor ? { cursor } : {}) });
    rows.push(...p.items);
    if (p.nextCursor === null) return { rows, more: false };
    if (rows.length >= cap) return { rows, more: true };
    cursor = p.nextCursor;
  }
}

/** Where a job runs, in a word: `local`, `agent:web-1`, `ssh:db-1@prod` (a run's child: the target as the run resolved it). */
export function jobTarget(job: Job): string {
  if (job.targetName !== null && job.targetKind !== null) return `${job.targetKind}:${job.targetName}`;
  if (job.target.type === 'local') return 'local';
  return job.target.type === 'agent' ? `agent:${job.target.agent}` : `ssh:${job.target.host}`;
}

/** How it ended, in a word: `0`, `3`, `SIGKILL`, `agent_offline`; `-` while it has not. */
export function jobExit(job: Pick<Job, 'exitCode' | 'signal' | 'error'>): string {
  if (job.exitCode !== null) return String(job.exitCode);
  if (job.signal !== null) return job.signal;
  return job.error?.code ?? '-';
}

const COMMAND_WIDTH = 60;
const cut = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

const JOB_COLUMNS: Column<Job>[] = [
  { header: 'ID', value: (j) => j.id },
  { header: 'STATUS', value: (j) => j.status, colour: (j, c) => statusColour(j.status, c) },
  { header: 'EXIT', value: jobExit },
  { header: 'TARGET', value: jobTarget },
  { header: 'CREATED', value: (j) => ago(j.createdAt) },
  { header: 'DURATION', value: (j) => formatDuration(elapsedMs(j.startedAt, j.finishedAt)) },
  { header: 'RUN', value: (j) => j.runId ?? '-', wide: true },
  { header: 'CREATOR', value: (j) => j.createdBy ?? '-', wide: true },
  { header: 'OUTPUT', value: (j) => `${j.outputBytes} B${j.outputTruncated ? ' (truncated)' : ''}`, wide: true },
  { header: 'LABELS', value: (j) => labelText(j.labels) || '-', wide: true },
  // Last: the one column of any width. The table cuts it; -o wide shows it whole.
  { header: 'COMMAND', value: (j) => cut(j.command, COMMAND_WIDTH), wide: false },
];
const WIDE_JOB_COLUMNS: Column<Job>[] = [...JOB_COLUMNS.slice(0, -1), { header: 'COMMAND', value: (j) => j.command }];

/** `Label:  value` lines, the labels aligned; a status value is coloured as in the listings. */
export function printFields(fields: readonly (readonly [string, string])[], statusOf?: string): void {
  const c = colours(process.stdout);
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  const lines = fields.map(([k, v]) => {
    const paint = k === 'Status' && statusOf !== undefined ? statusColour(statusOf, c) : undefined;
    return `${`${k}:`.padEnd(width)}  ${paint ? paint(v) : v.replace(/[\r\n]+/g, ' ')}`;
  });
  process.stdout.write(`${lines.join('\n')}\n`);
}

function jobFields(job: Job, wide: boolean): [string, string][] {
  const exit = job.exitCode !== null ? `exit code ${job.exitCode}` : job.signal !== null ? `signal ${job.signal}` : '-';
  const fields: [string, string][] = [
    ['ID', job.id],
    ['Status', job.status],
    ['Target', jobTarget(job)],
    ['Command', job.command],
    ['Exit', exit],
  ];
  if (job.error) fields.push(['Error', `${job.error.code}: ${job.error.message}`]);
  if (job.queuePosition !== null) fields.push(['Queue position', String(job.queuePosition)]);
  fields.push(
    ['Created', when(job.createdAt)],
    ['Started', when(job.startedAt)],
    ['Finished', when(job.finishedAt)],
    ['Duration', formatDuration(elapsedMs(job.startedAt, job.finishedAt)) + (job.startedAt !== null && job.finishedAt === null ? ' (running)' : '')],
    ['Run', job.runId === null ? '-' : `${job.runId} (child ${job.runIndex})`],
    ['Creator', job.createdBy ?? '-'],
  );
  if (wide) {
    fields.push(
      ['Cwd', job.cwd ?? '-'],
      ['Timeout', formatDuration(job.timeoutMs)],
      ['Env', Object.keys(job.env).sort().map((k) => `${k}=${job.env[k]}`).join(' ') || '-'],
      ['Secret env', job.secretEnvNames.join(', ') || '-'],
      ['Labels', labelText(job.labels) || '-'],
      ['Output', `${job.outputBytes} B${job.outputTruncated ? ' (truncated: head and tail kept)' : ''}`],
      ['Agent', job.agentId ?? '-'],
      ['Host', job.hostId ?? '-'],
      ['Attempt', String(job.attempt)],
    );
  }
  return fields;
}

export function registerJobs(program: Command): void {
  const jobs = program
    .command('jobs')
    .summary('list jobs and show one')
    .description('Jobs: one command on one target (local, an agent, an SSH host), single or a fleet run\'s child.')
    .addHelpText('after', '\nExamples:\n  vmo jobs ls --status failed,lost\n  vmo jobs show job_0123456789abcdefghij');

  withListOutput(
    jobs
      .command('ls')
      .alias('list')
      .summary('list jobs, newest first')
      .description(
        `The jobs you may see, newest first: id, status, exit (code, signal or error), target, age, duration, command. At most ${DEFAULT_LIMIT} unless --limit or --all (the rest are fetched page by page). -o wide: run, creator, output size, labels, the whole command.`,
      )
      .option('--status <status[,status]>', 'only these statuses: queued, running, succeeded, failed, canceled, timed_out, lost, skipped')
      .option('--limit <n>', `at most n jobs (default ${DEFAULT_LIMIT})`, parseLimit)
      .option('--all', 'every job (page by page)')
      .option('--run <run>', "only this fleet run's children (run_…)")
      .option('--target <target>', 'only the jobs on this agent or SSH host (a name or id)'),
  )
    .addHelpText(
      'after',
      `
Examples:
  vmo jobs ls
  vmo jobs ls --status failed,timed_out --limit 100 -o wide
  vmo jobs ls --run run_0123456789abcdefghij --all --json | jq -r '.[] | select(.status != "succeeded") | .targetName'`,
    )
    .action(async (opts: ListOptions & PagingOptions & { status?: string; run?: string; target?: string }, command: Command) => {
      const format = outputFormat(opts);
      checkPaging(opts);
      const { client } = await connect(command);
      const filters = { ...(opts.status !== undefined && { status: opts.status as Job['status'] }), ...(opts.run !== undefined && { run: opts.run }), ...(opts.target !== undefined && { target: opts.target }) };
      const { rows, more } = await fetchRows(opts, (q) => client.jobs.list({ ...filters, ...q }));
      printList(rows, format === 'wide' ? WIDE_JOB_COLUMNS : JOB_COLUMNS, format, { empty: 'no jobs' });
      if (more && format !== 'json') process.stderr.write(`(the ${rows.length} newest; --limit N or --all for more)\n`);
    });

  withListOutput(
    jobs
      .command('show')
      .alias('get')
      .summary('show a job')
      .description('One job: id, status, target, command, exit code or signal (or why it ended without one), when it was created, started and finished, its duration, its run and creator. -o wide: cwd, timeout, env, labels, output size. --json: the job as the API answers it.')
      .argument('<job>', 'a job id (job_…)'),
  )
    .addHelpText('after', '\nExamples:\n  vmo jobs show job_0123456789abcdefghij\n  vmo jobs show job_0123456789abcdefghij --json | jq .exitCode\n  vmo logs job_0123456789abcdefghij          its output')
    .action(async (id: string, opts: ListOptions, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const job = await client.jobs.get(id);
      if (format === 'json') return printJson(job);
      printFields(jobFields(job, format === 'wide'), job.status);
    });
}
