import { Option, type Command } from 'commander';
import type { VmoClient } from '@vmo/client';
import { OPERATION_STATUSES, OPERATION_TYPES } from '@vmo/shared/domain';
import { connect } from '../connect.ts';
import { ExitCode } from '../exit-codes.ts';
import { ago, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';
import { followOperation } from '../workspace/follow-operation.ts';
import { checkPaging, elapsedMs, fetchRows, formatDuration, parseLimit, printFields, when, type PagingOptions } from './jobs.ts';

/**
 * `vmo operations ls|show|cancel|logs` (issue 18): what workspaces' actions became — each create,
 * start, stop, restart, rebuild, delete, snapshot and restore, with its status, error and log.
 */

type Operation = Awaited<ReturnType<VmoClient['operations']['list']>>['items'][number];

const COLUMNS: Column<Operation>[] = [
  { header: 'ID', value: (o) => o.id },
  { header: 'WORKSPACE', value: (o) => o.workspaceName },
  { header: 'TYPE', value: (o) => o.type },
  { header: 'STATUS', value: (o) => o.status, colour: (o, c) => (o.status === 'succeeded' ? c.green : o.status === 'failed' ? c.red : o.status === 'canceled' ? c.yellow : undefined) },
  { header: 'REASON', value: (o) => o.reason },
  { header: 'CREATED', value: (o) => ago(o.createdAt) },
  { header: 'DURATION', value: (o) => formatDuration(elapsedMs(o.startedAt, o.endedAt)) },
  { header: 'BY', value: (o) => o.actor?.name ?? '(lifecycle)', wide: true },
  { header: 'ERROR', value: (o) => (o.error ? `${o.error.code}: ${o.error.message}` : '') },
];

export function registerOperations(program: Command): void {
  const operations = program
    .command('operations')
    .alias('ops')
    .summary("workspace operations: each action's status, error and log")
    .description("Operations: every workspace action (create, start, stop, restart, rebuild, delete, snapshot, restore), asked by a person or by a lifecycle rule (autostop, idle, autostart, a session…), run by a worker: pending → running → succeeded | failed | canceling → canceled. Seen by the workspace's owner and the admins.")
    .addHelpText('after', '\nExamples:\n  vmo operations ls --workspace my-box\n  vmo operations logs -f wop_0123456789abcdefghij\n  vmo operations cancel wop_0123456789abcdefghij');

  withListOutput(
    operations
      .command('ls')
      .alias('list')
      .summary('list operations, newest first')
      .description('Of your workspaces (an admin\'s: all): id, workspace, type, status, reason, age, duration, error. -o wide: who asked.')
      .option('--workspace <workspace>', 'only this workspace\'s (a name of yours, or an id)')
      .addOption(new Option('--type <type>', 'only this type').choices(OPERATION_TYPES as unknown as string[]))
      .addOption(new Option('--status <status>', 'only this status').choices(OPERATION_STATUSES as unknown as string[]))
      .option('--limit <n>', 'at most n operations (default 20)', parseLimit)
      .option('--all', 'every operation (page by page)'),
  )
    .action(async (opts: ListOptions & PagingOptions & { workspace?: string; type?: Operation['type']; status?: Operation['status'] }, command: Command) => {
      const format = outputFormat(opts);
      checkPaging(opts);
      const { client } = await connect(command);
      const filters = { ...(opts.workspace ? { workspace: opts.workspace } : {}), ...(opts.type ? { type: opts.type } : {}), ...(opts.status ? { status: opts.status } : {}) };
      const { rows, more } = await fetchRows(opts, (q) => client.operations.list({ ...filters, ...q }));
      printList(rows, COLUMNS, format, { empty: 'no operations' });
      if (more && format !== 'json') process.stderr.write(`(the ${rows.length} newest; --limit N or --all for more)\n`);
    });

  operations
    .command('show')
    .alias('get')
    .summary('show an operation and its log')
    .argument('<operation>', 'an operation id (wop_…)')
    .option('--json', 'the operation as the API answers it (with its first 1000 log lines)')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const o = await client.operations.get(id);
      if (opts.json) return printJson(o);
      const fields: [string, string][] = [
        ['ID', o.id],
        ['Workspace', `${o.workspaceName} (${o.workspaceId})`],
        ['Type', o.type],
        ['Status', o.status],
        ['Reason', o.reason],
        ['Asked by', o.actor?.name ?? '(lifecycle)'],
        ['Template', o.templateVersion === null ? '-' : `v${o.templateVersion}`],
      ];
      if (o.error) fields.push(['Error', `${o.error.code}: ${o.error.message}`]);
      fields.push(['Created', when(o.createdAt)], ['Started', when(o.startedAt)], ['Ended', when(o.endedAt)], ['Duration', formatDuration(elapsedMs(o.startedAt, o.endedAt))]);
      if (o.cancelRequestedAt) fields.push(['Cancel asked', when(o.cancelRequestedAt)]);
      printFields(fields, o.status);
      process.stdout.write(`\nLog:\n${o.logs.length === 0 ? '  (none)\n' : o.logs.map((l) => `  ${l.line}\n`).join('')}${o.logsTruncated ? `  … (vmo operations logs ${o.id} for the rest)\n` : ''}`);
    });

  operations
    .command('cancel')
    .summary('cancel an operation')
    .description('A pending operation ends canceled at once; a running one becomes canceling while its worker stops the provider. An ended one: 409 operation_ended.')
    .argument('<operation>', 'an operation id (wop_…)')
    .option('--json', 'the operation after the request')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const o = await client.operations.cancel(id);
      if (opts.json) return printJson(o);
      process.stdout.write(`${o.id}: ${o.status}\n`);
    });

  operations
    .command('logs')
    .summary("an operation's log; -f follows it to the end")
    .description("Print an operation's log lines. With -f, keep printing them as the worker writes them until it ends; then exit 0 when it succeeded, 1 when it failed or was canceled (the error on stderr). Ctrl-C stops following (exit 75); the operation goes on.")
    .argument('<operation>', 'an operation id (wop_…)')
    .option('-f, --follow', 'follow to its end')
    .action(async (id: string, opts: { follow?: boolean }, command: Command) => {
      const { client } = await connect(command);
      if (opts.follow) {
        process.exitCode = (await followOperation(client, id, process.stdout)).exitCode;
        return;
      }
      for (const l of await client.operations.logs(id)) process.stdout.write(`${l.line}\n`);
      process.exitCode = ExitCode.ok;
    });
}
