import type { Command } from 'commander';
import type { ShellSession } from '@vmo/shared/api';
import { connect } from '../connect.ts';
import { ExitCode } from '../exit-codes.ts';
import { ago, outputFormat, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';
import { checkPaging, DEFAULT_LIMIT, elapsedMs, fetchRows, formatDuration, parseLimit, type PagingOptions } from './jobs.ts';

/** How it ended, in a word: `open`, `exit 7`, `SIGHUP` (reaped, hung up), `lost`, `server_lost`, `server_restarted`. */
export function sessionEnd(s: Pick<ShellSession, 'endedAt' | 'endReason' | 'exitCode' | 'signal'>): string {
  if (s.endedAt === null) return 'open';
  // A node's end says which; the program's own end (or one from before reasons were kept) is its code or signal.
  if (s.endReason !== null && s.endReason !== 'exited') return s.endReason;
  if (s.exitCode !== null) return `exit ${s.exitCode}`;
  return s.signal ?? 'ended';
}

const COMMAND_WIDTH = 60;
const cut = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

const SESSION_COLUMNS: Column<ShellSession>[] = [
  { header: 'ID', value: (s) => s.id },
  { header: 'TARGET', value: (s) => `${s.target.kind}:${s.target.name}` },
  { header: 'USER', value: (s) => s.user.name },
  { header: 'END', value: sessionEnd, colour: (s, c) => (s.endedAt === null ? c.green : s.endReason === 'lost' || s.endReason === 'server_lost' ? c.red : undefined) },
  { header: 'OPENED', value: (s) => ago(s.openedAt) },
  { header: 'DURATION', value: (s) => formatDuration(elapsedMs(s.openedAt, s.endedAt)) },
  { header: 'RECORDED', value: (s) => `${s.recordedBytes} B` },
  { header: 'SIZE', value: (s) => `${s.cols}x${s.rows}`, wide: true },
  { header: 'TARGET ID', value: (s) => s.target.id, wide: true },
  // Last: the one column of any width (the login shell: `-`). The table cuts it; -o wide shows it whole.
  { header: 'COMMAND', value: (s) => cut(s.command ?? '-', COMMAND_WIDTH) },
];
const WIDE_SESSION_COLUMNS: Column<ShellSession>[] = [...SESSION_COLUMNS.slice(0, -1), { header: 'COMMAND', value: (s) => s.command ?? '-' }];

interface ListSessionOptions extends ListOptions, PagingOptions {
  target?: string;
  user?: string;
}

/** `vmo sessions`: the recorded interactive shell sessions (protocol/SHELL.md §S7), and one's bytes. */
export function registerSessions(program: Command): void {
  const sessions = program
    .command('sessions')
    .summary('list recorded shell sessions and print their bytes')
    .description('Interactive shell sessions (vmo shell, the dashboard\'s terminals): who opened one, where, when and how it ended, and what it recorded. Admins see everyone\'s; anyone else their own.')
    .addHelpText('after', '\nExamples:\n  vmo sessions\n  vmo sessions ls --target host:db-1@prod --user alice\n  vmo sessions logs shs_0123456789abcdefghij > session.out');

  withListOutput(
    sessions
      .command('ls', { isDefault: true })
      .alias('list')
      .summary('list sessions, newest first (the default)')
      .description(
        `The sessions you may see, newest first: id, target, user, how it ended (open; exit N; SIGHUP when reaped; lost, server_restarted, server_lost when its holder went), when it opened, how long it lasted, the bytes recorded, the command. At most ${DEFAULT_LIMIT} unless --limit or --all. -o wide: the terminal's size, the target's id, the whole command.`,
      )
      .option('--target <target>', "one agent or host: its name (an SSH host's NAME@ENVIRONMENT) or id; agent:/host: prefixes are dropped")
      .option('--user <user>', "one user's sessions: a name or id")
      .option('--limit <n>', `at most n sessions (default ${DEFAULT_LIMIT})`, parseLimit)
      .option('--all', 'every session (page by page)'),
  )
    .addHelpText('after', "\nExamples:\n  vmo sessions ls --target web-1\n  vmo sessions --user alice --limit 5 -o wide\n  vmo sessions ls --json | jq -r '.[] | select(.endedAt == null) | .id'")
    .action(async (opts: ListSessionOptions, command: Command) => {
      const format = outputFormat(opts);
      checkPaging(opts);
      const { client } = await connect(command);
      // `vmo shell host:db-1@prod` names it so: the API filters on the bare name or id.
      const target = opts.target?.replace(/^(agent|host):/, '');
      const { rows, more } = await fetchRows(opts, (q) => client.sessions.list({ ...(target !== undefined && { target }), ...(opts.user !== undefined && { user: opts.user }), ...q }));
      printList(rows, format === 'wide' ? WIDE_SESSION_COLUMNS : SESSION_COLUMNS, format, { empty: 'no shell sessions' });
      if (more && format !== 'json') process.stderr.write(`(the ${rows.length} newest; --limit N or --all for more)\n`);
    });

  sessions
    .command('logs')
    .summary("print a session's recorded bytes")
    .description(
      "Write what a session's terminal printed, exactly as recorded (escape sequences included: cat it in a terminal to replay the screen, or redirect it to a file). --input: what its clients typed instead, recorded only while the API runs with VMO_SHELL_RECORD_INPUT=true (passwords typed at prompts included).",
    )
    .argument('<session>', 'the session id (shs_…)')
    .option('--input', 'the typed bytes instead of the output')
    .addHelpText('after', '\nExamples:\n  vmo sessions logs shs_0123456789abcdefghij\n  vmo sessions logs --input shs_0123456789abcdefghij | od -c | head')
    .action(async (id: string, opts: { input?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const bytes = await client.sessions.logs(id, { stream: opts.input ? 'input' : 'output' });
      // LOUD: the bytes as stored, never decoded or re-encoded (a terminal's output is not always UTF-8).
      process.stdout.write(bytes);
      if (opts.input && bytes.length === 0) process.stderr.write('no input recorded for this session (the API records typing only with VMO_SHELL_RECORD_INPUT=true)\n');
      process.exitCode = ExitCode.ok;
    });
}
