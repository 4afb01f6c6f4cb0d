import type { Command } from 'commander';
import type { VmoClient } from '@vmo/client';
import { connect } from '../connect.ts';
import { parseDuration } from '../job/duration.ts';
import { parseAt } from '../job/run-at.ts';
import { printJson, printList, type Column } from '../output/list.ts';
import { formatDuration, printFields } from './jobs.ts';

/**
 * `vmo usage` and `vmo usage overview` (issue 18): running time, job time, output and cost per
 * workspace over a window (GET /v1/usage), and the admins' month at a glance (GET /v1/usage/overview).
 */

type Row = Awaited<ReturnType<VmoClient['usage']['get']>>['workspaces'][number];

const seconds = (s: number) => formatDuration(s * 1000);
const money = (n: number) => n.toFixed(2);

const COLUMNS: Column<Row>[] = [
  { header: 'WORKSPACE', value: (r) => `${r.name}${r.deleted ? ' (deleted)' : ''}` },
  { header: 'OWNER', value: (r) => r.ownerName },
  { header: 'RUNNING', value: (r) => seconds(r.runningSeconds) },
  { header: 'JOBS', value: (r) => seconds(r.jobSeconds) },
  { header: 'OUTPUT', value: (r) => `${r.outputBytes} B` },
  { header: 'COST', value: (r) => money(r.cost) },
  { header: 'COST/H', value: (r) => (r.costPerHour === null ? '-' : String(r.costPerHour)) },
];

/** `--from`/`--to`: a time as `vmo run --at` takes it, or -DURATION for that long ago (-7d). */
function parseWhen(text: string): string {
  if (text.startsWith('-')) return new Date(Date.now() - parseDuration(text.slice(1), '--from/--to')).toISOString();
  return parseAt(text);
}

export function registerUsage(program: Command): void {
  const usage = program
    .command('usage')
    .summary("workspaces' running time, job time, output and cost")
    .description("Per workspace over a window (default: this month so far, UTC): seconds it was running (from its operations), seconds vmo jobs ran on it, output bytes, and cost (the template's cost per hour × running hours). Yours; an admin's: everyone's, or --user's.")
    .option('--user <user>', "a user's workspaces (admins; others may name only themselves)")
    .option('--workspace <workspace>', 'one workspace (a name of yours, or an id)')
    .option('--from <time>', 'the start of the window: 2026-11-01T00:00:00Z, 2026-11-01 00:00, or -7d (that long ago)')
    .option('--to <time>', 'the end of the window (default now)')
    .option('--json', 'the report as the API answers it')
    .addHelpText('after', '\nExamples:\n  vmo usage\n  vmo usage --from -7d --workspace my-box\n  vmo usage --user alice --json | jq .totals.cost')
    .action(async (opts: { user?: string; workspace?: string; from?: string; to?: string; json?: boolean }, command: Command) => {
      const query = {
        ...(opts.user ? { user: opts.user } : {}),
        ...(opts.workspace ? { workspace: opts.workspace } : {}),
        ...(opts.from ? { from: parseWhen(opts.from) } : {}),
        ...(opts.to ? { to: parseWhen(opts.to) } : {}),
      };
      const { client } = await connect(command);
      const report = await client.usage.get(query);
      if (opts.json) return printJson(report);
      process.stdout.write(`From ${report.from} to ${report.to} (counted until ${report.countedUntil})\n\n`);
      printList(report.workspaces, COLUMNS, 'table', { empty: 'no workspaces in this window' });
      const t = report.totals;
      process.stdout.write(`\nTotal: running ${seconds(t.runningSeconds)}, jobs ${seconds(t.jobSeconds)}, output ${t.outputBytes} B, cost ${money(t.cost)}\n`);
    });

  usage
    .command('overview')
    .summary('admins: workspaces by status, top users and cost this month')
    .option('--json', 'the overview as the API answers it')
    .action(async (_opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const o = await client.usage.overview();
      // `vmo usage` has --json too: commander gives it to the parent wherever it stands on the line.
      if (command.optsWithGlobals<{ json?: boolean }>().json) return printJson(o);
      const byStatus = Object.entries(o.workspacesByStatus).filter(([, n]) => n > 0);
      printFields([
        ['Month', `${o.month.from} to ${o.month.to}`],
        ['Running', seconds(o.runningSecondsThisMonth)],
        ['Cost', money(o.costThisMonth)],
        ['Workspaces', byStatus.length === 0 ? 'none' : byStatus.map(([s, n]) => `${s} ${n}`).join(', ')],
      ]);
      process.stdout.write('\nTop users:\n');
      printList(o.topUsers, [
        { header: 'USER', value: (u) => u.ownerName },
        { header: 'WORKSPACES', value: (u) => String(u.workspaces) },
        { header: 'RUNNING', value: (u) => seconds(u.runningSeconds) },
        { header: 'COST', value: (u) => money(u.cost) },
      ], 'table');
    });
}
