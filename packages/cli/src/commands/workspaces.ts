import { Option, type Command } from 'commander';
import type { VmoClient } from '@vmo/client';
import type { Workspace } from '@vmo/shared/api';
import { WORKSPACE_STATUSES } from '@vmo/shared/domain';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { parseDuration } from '../job/duration.ts';
import { parseAt } from '../job/run-at.ts';
import { ago, labelText, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';
import { followOperation } from '../workspace/follow-operation.ts';
import { checkPaging, fetchRows, formatDuration, parseLimit, printFields, statusColour, when, type PagingOptions } from './jobs.ts';
import { until } from './schedules.ts';

/**
 * `vmo workspaces …` (issue 18): machines whose whole life vmo runs, made from a template. Every
 * action (create, start, stop, restart, rebuild, rm, snapshot, restore) is an operation that a
 * worker carries out; vmo follows it by default — its log lines as they come, then exit 0 when it
 * succeeded, 1 when it failed or was canceled (the error on stderr) — as an operator watching a
 * rollout expects; --no-wait returns at once with the operation's id. A workspace is named by its
 * id (wks_…) or, for your own, its name.
 */

type Snapshot = Awaited<ReturnType<VmoClient['snapshots']['list']>>['items'][number];
type Session = Awaited<ReturnType<VmoClient['workspaceSessions']['list']>>['items'][number];
type OperationRef = { id: string; type: string; status: string };

const usage = (message: string) => new CliError(message, ExitCode.usage, 'usage');
const collect = (value: string, previous: string[]) => [...previous, value];

/** Workspace statuses in colour: running green, failed red, stopped/canceled yellow. */
function wsColour(status: string, c: Parameters<typeof statusColour>[1]) {
  if (status === 'running') return c.green;
  if (status === 'stopped') return c.yellow;
  return statusColour(status, c);
}

const templateText = (w: Workspace) => `${w.templateName}@v${w.templateVersion}${w.outdated ? ' (outdated)' : ''}`;
const lastOp = (w: Workspace) => (w.latestOperation ? `${w.latestOperation.type} ${w.latestOperation.status}` : '-');

const COLUMNS: Column<Workspace>[] = [
  { header: 'NAME', value: (w) => w.name },
  { header: 'STATUS', value: (w) => w.status, colour: (w, c) => wsColour(w.status, c) },
  { header: 'HEALTH', value: (w) => w.health },
  { header: 'TEMPLATE', value: templateText },
  { header: 'DEADLINE', value: (w) => (w.deadlineAt === null ? '-' : until(w.deadlineAt)) },
  { header: 'LAST OPERATION', value: lastOp },
  { header: 'OWNER', value: (w) => w.ownerName },
  { header: 'ID', value: (w) => w.id, wide: true },
  { header: 'AGENT', value: (w) => (w.agent ? `${w.agent.name}${w.agent.online ? '' : ' (offline)'}` : '-'), wide: true },
  { header: 'LABELS', value: (w) => labelText(w.labels) || '-', wide: true },
];

function printWorkspace(w: Workspace): void {
  const op = w.latestOperation;
  const fields: [string, string][] = [
    ['ID', w.id],
    ['Name', w.name],
    ['Status', w.status],
    ['Health', w.health],
    ['Owner', w.ownerName],
    ['Template', `${templateText(w)} (current: v${w.templateCurrentVersion})`],
    ['Agent', w.agent ? `${w.agent.name} (${w.agent.id}, ${w.agent.online ? 'online' : 'offline'})` : '-'],
    ['Params', labelText(w.params) || '-'],
    ['Labels', labelText(w.labels) || '-'],
    ['TTL', w.ttlMs === null ? "template's" : formatDuration(w.ttlMs)],
    ['Idle timeout', w.idleTimeoutMs === null ? "template's" : formatDuration(w.idleTimeoutMs)],
    ['Autostart', w.autostart ? `${w.autostart.cron} (${w.autostart.timezone})${w.autostart.nextAt ? `, next ${w.autostart.nextAt} (${until(w.autostart.nextAt)})` : ''}` : '-'],
    ['Deadline', w.deadlineAt === null ? '-' : `${w.deadlineAt} (${until(w.deadlineAt)})`],
    ['Max deadline', w.maxDeadlineAt ?? '-'],
    ['Last active', when(w.lastActiveAt)],
    ['Dormant', w.dormantAt === null ? 'no' : when(w.dormantAt)],
    ['Resources', w.resources ? Object.entries(w.resources).map(([k, v]) => `${k}=${v}`).join(' ') : '-'],
    ['Operation', op ? `${op.type} ${op.status} (${op.id}, ${op.reason}${op.endedAt ? `, ended ${ago(op.endedAt)}` : ''})` : '-'],
  ];
  if (op?.error) fields.push(['Error', `${op.error.code}: ${op.error.message}`]);
  fields.push(['Created', when(w.createdAt)]);
  if (w.deletedAt) fields.push(['Deleted', when(w.deletedAt)]);
  printFields(fields, w.status);
}

interface WaitOptions {
  wait?: boolean;
  json?: boolean;
}

/** `--wait` (the default) / `--no-wait`, and --json. */
function withWait(command: Command): Command {
  return command
    .option('--wait', 'follow the operation to its end, printing its log (the default)')
    .option('--no-wait', 'return at once with the operation (follow it with vmo operations logs -f ID)')
    .option('--json', 'print the result as one JSON document (while waiting, the log goes to stderr)');
}

/**
 * After an action: follow its operation (unless --no-wait) and set the exit code. --json prints
 * `{...extra, operation}` with the final operation (or the one just asked for).
 */
async function finish(client: VmoClient, name: string, operation: OperationRef, opts: WaitOptions, extra: Record<string, unknown> = {}): Promise<void> {
  if (opts.wait === false) {
    if (opts.json) return printJson({ ...extra, operation });
    process.stdout.write(`${name}: ${operation.type} ${operation.status} (${operation.id}); follow it: vmo operations logs -f ${operation.id}\n`);
    return;
  }
  if (!opts.json) process.stdout.write(`${name}: ${operation.type} ${operation.id}\n`);
  const { operation: ended, exitCode } = await followOperation(client, operation.id, opts.json ? process.stderr : process.stdout);
  process.exitCode = exitCode;
  if (opts.json) return printJson({ ...extra, operation: ended });
  if (exitCode === ExitCode.ok) process.stdout.write(`${name}: ${ended.type} succeeded\n`);
}

function parseParams(pairs: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`--param: "${pair}" must be NAME=VALUE`);
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return params;
}

interface CreateOptions extends WaitOptions {
  template: string;
  param: string[];
  ttl?: string;
  idle?: string;
  autostart?: string;
  tz?: string;
  label: string[];
}

/** The POST /v1/workspaces body from the flags, checked before any server is asked. */
export function workspaceBody(name: string, opts: CreateOptions): Parameters<VmoClient['workspaces']['create']>[0] {
  if (opts.tz !== undefined && opts.autostart === undefined) throw usage('--tz is the timezone of --autostart: give --autostart too');
  return {
    name,
    template: opts.template,
    params: parseParams(opts.param),
    ...(opts.ttl !== undefined ? { ttlMs: parseDuration(opts.ttl, '--ttl') } : {}),
    ...(opts.idle !== undefined ? { idleTimeoutMs: parseDuration(opts.idle, '--idle') } : {}),
    ...(opts.autostart !== undefined ? { autostartSchedule: { cron: opts.autostart, timezone: opts.tz ?? 'UTC' } } : {}),
    ...(opts.label.length > 0 ? { labels: parseParams(opts.label) } : {}),
  };
}

/** A snapshot named by its id (snp_…) or its name among the workspace's. */
async function resolveSnapshot(client: VmoClient, workspace: string, ref: string): Promise<Snapshot> {
  const { items } = await client.snapshots.list(workspace);
  const found = items.find((s) => s.id === ref) ?? items.find((s) => s.name === ref);
  if (!found) throw new CliError(`${workspace} has no snapshot ${JSON.stringify(ref)} (vmo workspaces snapshots ${workspace} lists them)`, ExitCode.cliError, 'not_found');
  return found;
}

const SNAPSHOT_COLUMNS: Column<Snapshot>[] = [
  { header: 'ID', value: (s) => s.id },
  { header: 'NAME', value: (s) => s.name },
  { header: 'STATUS', value: (s) => s.status, colour: (s, c) => (s.status === 'ready' ? c.green : s.status === 'failed' ? c.red : undefined) },
  { header: 'SIZE', value: (s) => (s.sizeBytes === null ? '-' : `${s.sizeBytes} B`) },
  { header: 'CREATED', value: (s) => ago(s.createdAt) },
  { header: 'BY', value: (s) => s.createdBy ?? '-' },
];

const SESSION_COLUMNS: Column<Session>[] = [
  { header: 'ID', value: (s) => s.id },
  { header: 'STATUS', value: (s) => s.status },
  { header: 'PREPARE', value: (s) => s.prepareAt },
  { header: 'START', value: (s) => `${s.startAt} (${until(s.startAt)})` },
  { header: 'END', value: (s) => s.endAt },
  { header: 'DURATION', value: (s) => formatDuration(s.durationMs) },
  { header: 'BY', value: (s) => s.createdBy ?? '-', wide: true },
];

export function registerWorkspaces(program: Command): void {
  const workspaces = program
    .command('workspaces')
    .alias('ws')
    .summary('workspaces: machines made from a template, started, stopped and destroyed by vmo')
    .description(
      'Workspaces: a machine made from a template (vmo templates), running a vmo agent, so jobs (vmo run --on agent:NAME, or {"type":"workspace"}) and shells (vmo shell workspace:NAME) work on it. Stopped by its TTL and idle timeout, started by its autostart schedule or a booked session. Every action is an operation: vmo follows it to its end by default (its log, then exit 0 when it succeeded, 1 when it failed or was canceled); --no-wait returns at once. A workspace is named by its id (wks_…) or, for your own, its name.',
    )
    .addHelpText(
      'after',
      `
Examples:
  vmo workspaces create my-box --template dev --ttl 4h
  vmo workspaces ls
  vmo workspaces stop my-box
  vmo workspaces rm my-box

Exit status of an action (create, start, stop, restart, rebuild, rm, snapshot, restore):
  0        its operation succeeded (with --no-wait: it was accepted)
  1        its operation failed or was canceled (its error on stderr)
  75       Ctrl-C stopped following: the operation goes on (vmo operations logs -f ID)
  70       vmo failed: the API refused (409 workspace_busy, invalid_transition; 404) or could not be reached
  2        bad usage`,
    );

  withListOutput(
    workspaces
      .command('ls')
      .alias('list')
      .summary('list workspaces, newest first')
      .description('Yours (an admin\'s: everyone\'s, or --owner\'s), newest first: name, status, health, template and version, when its TTL stops it, its last operation, its owner. -o wide: id, agent, labels. Deleted ones only with --status deleted.')
      .addOption(new Option('--status <status>', 'only this status').choices(WORKSPACE_STATUSES as unknown as string[]))
      .option('--owner <user>', "admins: only this user's (name or id)")
      .option('--limit <n>', 'at most n workspaces (default 20)', parseLimit)
      .option('--all', 'every workspace (page by page)'),
  )
    .addHelpText('after', "\nExamples:\n  vmo workspaces ls\n  vmo workspaces ls --status running -o wide\n  vmo workspaces ls --json | jq -r '.[] | select(.outdated) | .name'")
    .action(async (opts: ListOptions & PagingOptions & { status?: Workspace['status']; owner?: string }, command: Command) => {
      const format = outputFormat(opts);
      checkPaging(opts);
      const { client } = await connect(command);
      const filters = { ...(opts.status ? { status: opts.status } : {}), ...(opts.owner ? { owner: opts.owner } : {}) };
      const { rows, more } = await fetchRows(opts, (q) => client.workspaces.list({ ...filters, ...q }));
      printList(rows, COLUMNS, format, { empty: 'no workspaces (vmo workspaces create NAME --template T)' });
      if (more && format !== 'json') process.stderr.write(`(the ${rows.length} newest; --limit N or --all for more)\n`);
    });

  workspaces
    .command('show')
    .alias('get')
    .summary('show a workspace')
    .description('Status, health, agent, template version, TTL and deadline, autostart, last activity, resources and its latest operation (with its error).')
    .argument('<workspace>', 'a name (yours) or an id (wks_…)')
    .option('--json', 'the workspace as the API answers it')
    .action(async (ref: string, opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const w = await client.workspaces.get(ref);
      if (opts.json) return printJson(w);
      printWorkspace(w);
    });

  withWait(
    workspaces
      .command('create')
      .summary('create a workspace from a template (and start it)')
      .description("Create a workspace from a template's current version; it starts at once. It is ready when its agent connects (health healthy). --param gives the template's parameters; --ttl and --idle replace the template's; --autostart starts it on a cron schedule in --tz.")
      .argument('<name>', '1-48 lowercase letters, digits or "-"')
      .requiredOption('--template <template>', 'a template name or id (vmo templates ls)')
      .option('--param <k=v>', "a value for one of the template's parameters; repeat", collect, [])
      .option('--ttl <duration>', "stop it this long after each start (2h), instead of the template's")
      .option('--idle <duration>', "stop it after this long without a shell or job (30m), instead of the template's")
      .option('--autostart <cron>', "start it on this cron schedule ('0 8 * * 1-5')")
      .option('--tz <zone>', 'the timezone of --autostart (Europe/Berlin; default UTC)')
      .option('--label <k=v>', 'a label; repeat', collect, []),
  )
    .addHelpText('after', "\nExamples:\n  vmo workspaces create my-box --template dev\n  vmo workspaces create my-box --template dev --param region=eu --ttl 2h --autostart '0 8 * * 1-5' --tz Europe/Berlin\n  vmo workspaces create my-box --template dev --no-wait --json | jq -r .operation.id")
    .action(async (name: string, opts: CreateOptions, command: Command) => {
      const body = workspaceBody(name, opts);
      const { client } = await connect(command);
      const { workspace, operation } = await client.workspaces.create(body);
      await finish(client, workspace.name, operation, opts, { workspace });
    });

  workspaces
    .command('edit')
    .alias('update')
    .summary('rename a workspace, or change its TTL, idle timeout, autostart or labels')
    .description("Change what the flags give (nothing else). A new TTL applies from the next start; none puts back the template's TTL or idle timeout. A new name renames its agent and its workspace label too.")
    .argument('<workspace>', 'a name (yours) or an id (wks_…)')
    .option('--name <name>', 'rename it')
    .option('--ttl <duration>', "stop it this long after each start (2h; none: the template's)")
    .option('--idle <duration>', "stop it after this long without a shell or job (30m; none: the template's)")
    .option('--autostart <cron>', "start it on this cron schedule ('0 8 * * 1-5'; none: no autostart)")
    .option('--tz <zone>', 'the timezone of --autostart (default UTC)')
    .option('--label <k=v>', 'its labels (all of them: the ones not given go); repeat', collect, [])
    .option('--json', 'the workspace after the change')
    .addHelpText('after', "\nExamples:\n  vmo workspaces edit my-box --ttl 8h --idle none\n  vmo workspaces edit my-box --autostart '0 8 * * 1-5' --tz Europe/Berlin")
    .action(async (ref: string, opts: { name?: string; ttl?: string; idle?: string; autostart?: string; tz?: string; label: string[]; json?: boolean }, command: Command) => {
      if (opts.tz !== undefined && (opts.autostart === undefined || opts.autostart === 'none')) throw usage('--tz is the timezone of --autostart: give --autostart CRON too');
      const orNone = (text: string | undefined, option: string) => (text === undefined ? undefined : text === 'none' ? null : parseDuration(text, option));
      const patch = Object.fromEntries(
        Object.entries({
          name: opts.name,
          ttlMs: orNone(opts.ttl, '--ttl'),
          idleTimeoutMs: orNone(opts.idle, '--idle'),
          autostartSchedule: opts.autostart === undefined ? undefined : opts.autostart === 'none' ? null : { cron: opts.autostart, timezone: opts.tz ?? 'UTC' },
          labels: opts.label.length > 0 ? parseParams(opts.label) : undefined,
        }).filter(([, v]) => v !== undefined),
      );
      if (Object.keys(patch).length === 0) throw usage('nothing to change: give a flag (vmo workspaces edit --help)');
      const { client } = await connect(command);
      const w = await client.workspaces.update(ref, patch);
      if (opts.json) return printJson(w);
      process.stdout.write(`${w.name} (${w.id}): changed\n`);
    });

  for (const [verb, summary] of [
    ['start', 'start a stopped (failed, canceled) workspace'],
    ['stop', 'stop a workspace (its data stays)'],
    ['restart', 'stop then start a running workspace'],
    ['rebuild', "recreate it from its template's current version, keeping its identity and data"],
  ] as const) {
    withWait(workspaces.command(verb).summary(summary).description(`${summary[0]!.toUpperCase()}${summary.slice(1)}: an operation (409 workspace_busy while another is active, invalid_transition when its status does not allow it), followed to its end unless --no-wait.`).argument('<workspace>', 'a name (yours) or an id (wks_…)'))
      .addHelpText('after', `\nExamples:\n  vmo workspaces ${verb} my-box\n  vmo workspaces ${verb} my-box --no-wait`)
      .action(async (ref: string, opts: WaitOptions, command: Command) => {
        const { client } = await connect(command);
        const { operation } = await client.workspaces[verb](ref);
        await finish(client, ref, operation, opts);
      });
  }

  withWait(
    workspaces
      .command('rm')
      .alias('delete')
      .summary('destroy a workspace')
      .description('Destroy it (its provider removes the machine and its data): a delete operation, followed unless --no-wait; its name is free again once it succeeded. --orphan (admins): marked deleted at once WITHOUT its provider (what the provider made is left behind), for a workspace whose provider cannot answer.')
      .argument('<workspace>', 'a name (yours) or an id (wks_…)')
      .option('--orphan', 'admins: delete the record at once without calling its provider (what it made is left behind)'),
  )
    .addHelpText('after', '\nExamples:\n  vmo workspaces rm my-box\n  vmo workspaces rm wks_0123456789abcdefghij --orphan')
    .action(async (ref: string, opts: WaitOptions & { orphan?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const answer = await client.workspaces.delete(ref, { orphan: opts.orphan === true });
      if (!('operation' in answer)) {
        const w = answer as Workspace;
        if (opts.json) return printJson(w);
        process.stdout.write(`${w.name} (${w.id}): deleted without its provider (orphan)\n`);
        return;
      }
      await finish(client, ref, answer.operation, opts);
    });

  withWait(
    workspaces
      .command('snapshot')
      .summary('snapshot a stopped workspace')
      .description("Take a snapshot of a stopped workspace (fake and netns providers: an archive of its directory): a snapshot operation, followed unless --no-wait. The snapshot is ready when it succeeds.")
      .argument('<workspace>', 'a name (yours) or an id (wks_…)')
      .argument('<snapshot>', 'its name: letters, digits, ".", "_" and "-"'),
  )
    .addHelpText('after', '\nExamples:\n  vmo workspaces stop my-box && vmo workspaces snapshot my-box before-upgrade')
    .action(async (ref: string, name: string, opts: WaitOptions, command: Command) => {
      const { client } = await connect(command);
      const { snapshot, operation } = await client.snapshots.create(ref, { name });
      await finish(client, ref, operation, opts, { snapshot });
    });

  withListOutput(workspaces.command('snapshots').summary("a workspace's snapshots, newest first").description('Id, name, status (pending, ready, failed), size, age, who took it.').argument('<workspace>', 'a name (yours) or an id (wks_…)'))
    .action(async (ref: string, opts: ListOptions, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const { items } = await client.snapshots.list(ref);
      printList(items, SNAPSHOT_COLUMNS, format, { empty: `no snapshots (vmo workspaces snapshot ${ref} NAME)` });
    });

  withWait(
    workspaces
      .command('restore')
      .summary('restore a snapshot into its (stopped) workspace, or into a new one')
      .description(
        'Put a ready snapshot back into its stopped workspace: a restore operation, followed unless --no-wait. Start the workspace afterwards. With --into NAME: a new workspace of yours, from the same template, params and labels, built from the snapshot and started.',
      )
      .argument('<workspace>', 'a name (yours) or an id (wks_…)')
      .argument('<snapshot>', 'a snapshot name or id (snp_…)')
      .option('--into <name>', 'a new workspace built from the snapshot, instead of this one'),
  )
    .addHelpText('after', '\nExamples:\n  vmo workspaces restore my-box before-upgrade && vmo workspaces start my-box\n  vmo workspaces restore my-box before-upgrade --into my-box-copy')
    .action(async (ref: string, snap: string, opts: WaitOptions & { into?: string }, command: Command) => {
      const { client } = await connect(command);
      const snapshot = await resolveSnapshot(client, ref, snap);
      if (opts.into !== undefined) {
        const { workspace, operation } = await client.snapshots.restore(ref, snapshot.id, { name: opts.into });
        await finish(client, opts.into, operation, opts, { workspace });
        return;
      }
      const { operation } = await client.snapshots.restore(ref, snapshot.id);
      await finish(client, ref, operation, opts);
    });

  withListOutput(
    workspaces
      .command('sessions')
      .summary("a workspace's booked sessions, soonest first")
      .description('Sessions booked with vmo workspaces schedule: status (scheduled, preparing, active, ended, canceled, failed), when it is started (prepare), begins and ends.')
      .argument('<workspace>', 'a name (yours) or an id (wks_…)')
      .option('--upcoming', 'only those not yet ended or canceled'),
  )
    .action(async (ref: string, opts: ListOptions & { upcoming?: boolean }, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const { items } = await client.workspaceSessions.list(ref, opts.upcoming ? { upcoming: 'true' } : {});
      printList(items, SESSION_COLUMNS, format, { empty: `no sessions (vmo workspaces schedule ${ref} --at TIME --for 2h)` });
    });

  workspaces
    .command('schedule')
    .summary('book a session: the workspace is up for it and stopped after it')
    .description("Book a session: the workspace is started --prepare (default 5m) before --at, so that it is up by then, kept from automatic stops until the end, and stopped at --at + --for even in use. Sessions of one workspace may not overlap.")
    .argument('<workspace>', 'a name (yours) or an id (wks_…)')
    .requiredOption('--at <time>', "when it begins: 2030-01-31T09:00:00Z, 2030-01-31 09:00 (this machine's timezone) or +1h")
    .requiredOption('--for <duration>', 'how long it lasts (2h)')
    .option('--prepare <duration>', 'start the workspace this long before (default 5m)')
    .option('--json', 'the session as the API answered')
    .addHelpText('after', "\nExamples:\n  vmo workspaces schedule my-box --at '2030-01-31 09:00' --for 2h\n  vmo workspaces schedule my-box --at +1h --for 30m --prepare 10m")
    .action(async (ref: string, opts: { at: string; for: string; prepare?: string; json?: boolean }, command: Command) => {
      const body = {
        startAt: parseAt(opts.at),
        durationMs: parseDuration(opts.for, '--for'),
        ...(opts.prepare !== undefined ? { prepareLeadMs: opts.prepare === '0' ? 0 : parseDuration(opts.prepare, '--prepare') } : {}),
      };
      const { client } = await connect(command);
      const s = await client.workspaceSessions.create(ref, body);
      if (opts.json) return printJson(s);
      process.stdout.write(`${s.id}: ${ref} from ${s.startAt} to ${s.endAt} (started at ${s.prepareAt})\n`);
    });

  workspaces
    .command('unschedule')
    .summary('cancel a booked session')
    .description('It will neither start nor stop the workspace any more; a workspace it already started keeps running.')
    .argument('<workspace>', 'a name (yours) or an id (wks_…)')
    .argument('<session>', 'the session id (wse_…, vmo workspaces sessions NAME)')
    .action(async (ref: string, session: string, _opts: unknown, command: Command) => {
      const { client } = await connect(command);
      await client.workspaceSessions.cancel(ref, session);
      process.stdout.write(`${session}: canceled\n`);
    });
}
