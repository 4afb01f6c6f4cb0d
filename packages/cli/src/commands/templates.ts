import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { VmoClient } from '@vmo/client';
import type { Template } from '@vmo/shared/api';
import { PROVIDER_KINDS } from '@vmo/shared/domain';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { parseDuration } from '../job/duration.ts';
import { labelText, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';
import { formatDuration, printFields, when } from './jobs.ts';

/**
 * `vmo templates ls|show|create|edit|rm|versions` (issue 18): what workspaces are made from — a
 * provider, its config (a JSON or YAML file), parameters, TTL, idle timeout, cost. Writing is for
 * admins. Every edit is a new version; workspaces keep theirs until rebuilt.
 */

type CreateBody = Parameters<VmoClient['templates']['create']>[0];
type PatchBody = Parameters<VmoClient['templates']['update']>[1];
type Version = Awaited<ReturnType<VmoClient['templates']['versions']>>['items'][number];

const usage = (message: string) => new CliError(message, ExitCode.usage, 'usage');
const collect = (value: string, previous: string[]) => [...previous, value];

/** A file holding one object, JSON or YAML (YAML 1.2 core schema: data only). */
export function readObjectFile(path: string, option: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw usage(`${option}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw usage(`${option}: ${path} is not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw usage(`${option}: ${path} must hold one object`);
  return doc as Record<string, unknown>;
}

/** A duration flag that may clear the field: `none` (or `0`) → null. */
const durationOrNone = (text: string, option: string): number | null => (text === 'none' || text === '0' ? null : parseDuration(text, option));

/** `--param NAME[!][=DEFAULT]`: a template parameter (`!` required). */
export function parseTemplateParam(spec: string): CreateBody['params'] extends (infer P)[] | undefined ? P : never {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(!)?(?:=(.*))?$/s.exec(spec);
  if (!m) throw usage(`--param: "${spec}" is not NAME[!][=DEFAULT] ("!": required)`);
  return { name: m[1]!, ...(m[2] ? { required: true } : {}), ...(m[3] !== undefined ? { default: m[3] } : {}) } as never;
}

interface TemplateFlags {
  file?: string;
  provider?: string;
  configFile?: string;
  param: string[];
  ttl?: string;
  idle?: string;
  activityBump?: string;
  maxDeadline?: string;
  failureTtl?: string;
  dormantAfter?: string;
  deleteDormantAfter?: string;
  agentConnectTimeout?: string;
  costPerHour?: string;
  label: string[];
  name?: string;
  json?: boolean;
}

/** The fields the flags give (only those given: a PATCH changes nothing else). */
export function templateFields(opts: TemplateFlags): PatchBody {
  if (opts.provider !== undefined && !(PROVIDER_KINDS as readonly string[]).includes(opts.provider)) throw usage(`--provider: "${opts.provider}" must be one of ${PROVIDER_KINDS.join(', ')}`);
  let cost: number | null | undefined;
  if (opts.costPerHour !== undefined) {
    cost = opts.costPerHour === 'none' ? null : Number(opts.costPerHour);
    if (cost !== null && (!/^\d+(\.\d+)?$/.test(opts.costPerHour) || !Number.isFinite(cost))) throw usage(`--cost-per-hour: "${opts.costPerHour}" must be a number (0.25) or none`);
  }
  const labels: Record<string, string> = {};
  for (const pair of opts.label) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`--label: "${pair}" must be KEY=VALUE`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const d = (text: string | undefined, option: string) => (text === undefined ? undefined : durationOrNone(text, option));
  const fields: Record<string, unknown> = {
    name: opts.name,
    provider: opts.provider,
    config: opts.configFile === undefined ? undefined : readObjectFile(opts.configFile, '--config-file'),
    params: opts.param.length > 0 ? opts.param.map(parseTemplateParam) : undefined,
    defaultTtlMs: d(opts.ttl, '--ttl'),
    idleTimeoutMs: d(opts.idle, '--idle'),
    activityBumpMs: d(opts.activityBump, '--activity-bump'),
    maxDeadlineMs: d(opts.maxDeadline, '--max-deadline'),
    failureTtlMs: d(opts.failureTtl, '--failure-ttl'),
    timeTilDormantMs: d(opts.dormantAfter, '--dormant-after'),
    timeTilDormantAutodeleteMs: d(opts.deleteDormantAfter, '--delete-dormant-after'),
    agentConnectTimeoutMs: opts.agentConnectTimeout === undefined ? undefined : parseDuration(opts.agentConnectTimeout, '--agent-connect-timeout'),
    costPerHour: cost,
    labels: opts.label.length > 0 ? labels : undefined,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as PatchBody;
}

/** The POST body: --file (the whole template), or the flags (--provider needed); both: the flags win. */
export function createBody(name: string, opts: TemplateFlags): CreateBody {
  const fromFile = opts.file === undefined ? {} : readObjectFile(opts.file, '--file');
  if (fromFile.name !== undefined && fromFile.name !== name) throw usage(`the name ${JSON.stringify(name)} and the file's name ${JSON.stringify(fromFile.name)} differ: give one`);
  const body = { ...fromFile, ...templateFields(opts), name } as CreateBody;
  if (body.provider === undefined) throw usage(`--provider: one of ${PROVIDER_KINDS.join(', ')} (or provider: in --file)`);
  return body;
}

const ms = (v: number | null) => (v === null ? '-' : formatDuration(v));

const COLUMNS: Column<Template>[] = [
  { header: 'NAME', value: (t) => t.name },
  { header: 'VERSION', value: (t) => String(t.currentVersion) },
  { header: 'PROVIDER', value: (t) => t.provider },
  { header: 'TTL', value: (t) => ms(t.defaultTtlMs) },
  { header: 'IDLE', value: (t) => ms(t.idleTimeoutMs) },
  { header: 'COST/H', value: (t) => (t.costPerHour === null ? '-' : String(t.costPerHour)) },
  { header: 'PARAMS', value: (t) => t.params.map((p) => p.name).join(',') || '-' },
  { header: 'ID', value: (t) => t.id, wide: true },
  { header: 'CHANGED', value: (t) => t.updatedAt, wide: true },
];

const VERSION_COLUMNS: Column<Version>[] = [
  { header: 'VERSION', value: (v) => String(v.version) },
  { header: 'WRITTEN', value: (v) => v.createdAt },
  { header: 'BY', value: (v) => v.createdBy ?? '-' },
  { header: 'PROVIDER', value: (v) => v.provider },
  { header: 'TTL', value: (v) => ms(v.defaultTtlMs) },
  { header: 'IDLE', value: (v) => ms(v.idleTimeoutMs) },
  { header: 'COST/H', value: (v) => (v.costPerHour === null ? '-' : String(v.costPerHour)) },
  { header: 'CONFIG', value: (v) => JSON.stringify(v.config) },
];

function printTemplate(t: Template): void {
  printFields([
    ['ID', t.id],
    ['Name', t.name],
    ['Version', String(t.currentVersion)],
    ['Provider', t.provider],
    ['TTL', ms(t.defaultTtlMs)],
    ['Activity bump', ms(t.activityBumpMs)],
    ['Max deadline', ms(t.maxDeadlineMs)],
    ['Idle timeout', ms(t.idleTimeoutMs)],
    ['Failure TTL', ms(t.failureTtlMs)],
    ['Dormant after', ms(t.timeTilDormantMs)],
    ['Delete dormant', ms(t.timeTilDormantAutodeleteMs)],
    ['Agent timeout', formatDuration(t.agentConnectTimeoutMs)],
    ['Cost per hour', t.costPerHour === null ? '-' : String(t.costPerHour)],
    ['Labels', labelText(t.labels) || '-'],
    ['Created by', t.createdBy ?? '-'],
    ['Changed', when(t.updatedAt)],
  ]);
  process.stdout.write('\nParameters:\n');
  if (t.params.length === 0) process.stdout.write('  none\n');
  for (const p of t.params) process.stdout.write(`  ${p.name}${p.required ? ' (required)' : ''}${p.default !== undefined ? ` = ${p.default}` : ''}${p.description ? `  ${p.description}` : ''}\n`);
  process.stdout.write(`\nConfig:\n${JSON.stringify(t.config, null, 2).replace(/^/gm, '  ')}\n`);
}

/** The flags create and edit share. */
function withTemplateFlags(command: Command): Command {
  return command
    .option('--provider <kind>', `where its machines come from: ${PROVIDER_KINDS.join(', ')}`)
    .option('--config-file <file>', "the provider's config: a JSON or YAML file holding one object")
    .option('--param <spec>', 'a parameter workspaces give: NAME[!][=DEFAULT] ("!" required); repeat', collect, [])
    .option('--ttl <duration>', 'stop a started workspace this long after its start (2h; none: no TTL)')
    .option('--idle <duration>', 'stop a workspace without a shell or job for this long (30m; none)')
    .option('--activity-bump <duration>', 'activity moves the deadline to at least now + this (1h; none)')
    .option('--max-deadline <duration>', 'the deadline never goes past start + this (12h; none)')
    .option('--failure-ttl <duration>', 'stop a workspace failed for this long (1d; none)')
    .option('--dormant-after <duration>', 'unused this long: stopped and marked dormant (30d; none)')
    .option('--delete-dormant-after <duration>', 'dormant this long: deleted (90d; none)')
    .option('--agent-connect-timeout <duration>', 'started but no agent within this: unhealthy (5m)')
    .option('--cost-per-hour <n>', 'what an hour of a running workspace costs, for usage reports (0.25; none)')
    .option('--label <k=v>', 'a label; repeat', collect, [])
    .option('--json', 'print the template as the API answered, one JSON document');
}

export function registerTemplates(program: Command): void {
  const templates = program
    .command('templates')
    .summary('workspace templates: a provider, its config, TTL and idle rules')
    .description('Templates: what workspaces are made from (vmo workspaces create NAME --template T). A provider (fake, netns, command, docker) and its config, parameters, a TTL, an idle timeout, dormancy rules and a cost per hour. Only admins write them; every edit is a new version (workspaces keep theirs until rebuilt). A template is named by its name or id.')
    .addHelpText('after', "\nExamples:\n  vmo templates create dev --provider netns --config-file netns.yaml --ttl 8h --idle 30m --cost-per-hour 0.12\n  vmo templates ls\n  vmo templates edit dev --ttl 4h");

  withListOutput(templates.command('ls').alias('list').summary('list templates by name').description('Every live template at its current version: name, version, provider, TTL, idle timeout, cost per hour, parameters. -o wide: id, last change.'))
    .addHelpText('after', "\nExamples:\n  vmo templates ls\n  vmo templates ls --json | jq -r '.[].name'")
    .action(async (opts: ListOptions, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const { items } = await client.templates.list();
      printList(items, COLUMNS, format, { empty: 'no templates (vmo templates create NAME --provider P …)' });
    });

  templates
    .command('show')
    .alias('get')
    .summary('show a template')
    .description("A template at its current version: every rule, its parameters and its provider's config.")
    .argument('<template>', 'a name or id (tpl_…)')
    .option('--json', 'the template as the API answers it')
    .addHelpText('after', '\nExamples:\n  vmo templates show dev\n  vmo templates show dev --json | jq .config')
    .action(async (ref: string, opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const t = await client.templates.get(ref);
      if (opts.json) return printJson(t);
      printTemplate(t);
    });

  withTemplateFlags(
    templates
      .command('create')
      .alias('add')
      .summary('create a template (admins)')
      .description('A new template, version 1. The config is checked against the provider\'s schema by the API (a bad field: its message, naming config.<field>). --file holds the whole template (JSON or YAML, the API\'s fields); flags given with it win.')
      .argument('<name>', 'lowercase letters, digits, "_", "." or "-"')
      .option('--file <file>', 'the whole template as JSON or YAML ({provider, config, params, defaultTtlMs, …})'),
  )
    .addHelpText('after', "\nExamples:\n  vmo templates create dev --provider netns --config-file netns.yaml --ttl 8h --idle 30m\n  vmo templates create box --provider command --config-file box.json --param region=eu --param size! --cost-per-hour 0.5")
    .action(async (name: string, opts: TemplateFlags, command: Command) => {
      const body = createBody(name, opts);
      const { client } = await connect(command);
      const t = await client.templates.create(body);
      if (opts.json) return printJson(t);
      process.stdout.write(`${t.name} (${t.id}): created, version ${t.currentVersion}\n`);
    });

  withTemplateFlags(
    templates
      .command('edit')
      .alias('update')
      .summary('change a template: a new version (admins)')
      .description('Change what the flags give (nothing else); the result is a new version. Workspaces keep the version they were built from (shown outdated) until rebuilt. A duration flag set to none clears it.')
      .argument('<template>', 'a name or id (tpl_…)')
      .option('--name <name>', 'rename it'),
  )
    .addHelpText('after', '\nExamples:\n  vmo templates edit dev --ttl 4h --idle none\n  vmo templates edit dev --config-file netns.yaml')
    .action(async (ref: string, opts: TemplateFlags, command: Command) => {
      const patch = templateFields(opts);
      if (Object.keys(patch).length === 0) throw usage('nothing to change: give a flag (vmo templates edit --help)');
      const { client } = await connect(command);
      const t = await client.templates.update(ref, patch);
      if (opts.json) return printJson(t);
      process.stdout.write(`${t.name} (${t.id}): version ${t.currentVersion}\n`);
    });

  templates
    .command('rm')
    .alias('remove')
    .summary('delete a template (admins)')
    .description('No new workspace from it, and its name is free again. Workspaces built from it keep their version: they start, stop, rebuild and delete as before.')
    .argument('<template>', 'a name or id (tpl_…)')
    .option('--json', 'print {"id", "name"} of the template deleted')
    .action(async (ref: string, opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      const t = await client.templates.get(ref);
      await client.templates.delete(t.id);
      if (opts.json) return printJson({ id: t.id, name: t.name });
      process.stdout.write(`${t.name} (${t.id}): deleted\n`);
    });

  withListOutput(templates.command('versions').summary("a template's versions, newest first").description('Every version: when and by whom, provider, TTL, idle timeout, cost, config.').argument('<template>', 'a name or id (tpl_…)'))
    .action(async (ref: string, opts: ListOptions, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const { items } = await client.templates.versions(ref);
      printList(items, VERSION_COLUMNS, format);
    });
}
