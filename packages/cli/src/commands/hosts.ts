import { existsSync, readdirSync, readFileSync, type Dirent } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { Host } from '@vmo/shared/api';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { allPages, labelText, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';
import { parseLabels } from './agents.ts';

const HOST_COLUMNS: Column<Host>[] = [
  { header: 'NAME', value: (h) => h.ref },
  { header: 'ADDRESS', value: (h) => `${h.user}@${h.host}${h.port === 22 ? '' : `:${h.port}`}` },
  { header: 'LABELS', value: (h) => labelText(h.labels) || '-' },
  { header: 'PROXY JUMP', value: (h) => h.proxyJump ?? '-', wide: true },
  { header: 'HOST KEY', value: (h) => (h.pinnedHostKeys.length > 0 ? `pinned (${h.pinnedHostKeys.length})` : h.hostKeyPolicy), wide: true },
  { header: 'MAX JOBS', value: (h) => (h.maxConcurrentJobs === null ? '-' : String(h.maxConcurrentJobs)), wide: true },
  { header: 'ID', value: (h) => h.id, wide: true },
  { header: 'DESCRIPTION', value: (h) => h.description || '-', wide: true },
];

/** One line of `vmo hosts import`: a host created, updated or unchanged, an alias skipped, or a warning. */
interface ImportRow {
  result: 'created' | 'updated' | 'unchanged' | 'skipped' | 'warning';
  /** The host (name@environment), the alias skipped, or the aliases a warning is about. */
  name: string;
  detail: string;
}

const IMPORT_COLUMNS: Column<ImportRow>[] = [
  { header: 'RESULT', value: (r) => r.result, colour: (r, c) => (r.result === 'created' ? c.green : r.result === 'updated' || r.result === 'warning' ? c.yellow : r.result === 'skipped' ? c.dim : undefined) },
  { header: 'HOST', value: (r) => r.name },
  { header: 'DETAIL', value: (r) => r.detail },
];

/** `user@host[:port]` (an IPv6 address in brackets: `user@[::1]:2222`). */
function parseDestination(text: string): { user: string; host: string; port?: number } {
  const m = /^([^@\s]+)@(\[[^\]]+\]|[^:@\s]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new CliError(`destination: "${text}" is not USER@HOST[:PORT]`, ExitCode.usage, 'usage');
  return { user: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), ...(m[3] !== undefined ? { port: Number(m[3]) } : {}) };
}

const DEFAULT_SSH_CONFIG = () => join(homedir(), '.ssh', 'config');

export function registerHosts(program: Command): void {
  const hosts = program
    .command('hosts')
    .summary('list, add, remove and import SSH hosts')
    .description('The inventory: machines without an agent, reached over SSH by the workers. A host is NAME@ENVIRONMENT (environment "default" unless given).')
    .addHelpText('after', '\nExamples:\n  vmo hosts ls\n  vmo hosts add db-1 deploy@10.0.0.5 --labels env=prod\n  vmo hosts import ~/.ssh/config\n  vmo hosts rm db-1');

  withListOutput(
    hosts
      .command('ls')
      .alias('list')
      .summary('list hosts')
      .description('Every host you may see: name@environment, user@address, labels (-o wide: proxy jump, host key, job limit, id, description).')
      .option('--environment <name>', 'only the hosts of this environment'),
  )
    .addHelpText('after', '\nExamples:\n  vmo hosts ls\n  vmo hosts ls --environment prod -o wide\n  vmo hosts ls --json | jq -r \'.[].ref\'')
    .action(async (opts: ListOptions & { environment?: string }, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const rows = await allPages((cursor) => client.hosts.list({ limit: 500, ...(opts.environment ? { environment: opts.environment } : {}), ...(cursor ? { cursor } : {}) }));
      printList(rows, HOST_COLUMNS, format, { empty: 'no hosts (vmo hosts add or vmo hosts import adds some)' });
    });

  hosts
    .command('add')
    .summary('add a host')
    .description('Add a host to the inventory. Its host key is pinned on first use with --host-key-policy accept-new; with strict (the default) give --pinned-key, or the first job fails until a key is pinned.')
    .argument('<name>', 'its name (letters, digits, _ . -)')
    .argument('<destination>', 'USER@HOST[:PORT]')
    .option('--environment <name>', 'its environment (default: default)')
    .option('--labels <k=v,...>', 'labels, e.g. env=prod,role=db')
    .option('--identity-file <path>', 'the private key, on the workers')
    .option('--proxy-jump <hops>', 'as ssh -J: user@bastion[:port][,…]')
    .addOption(new Option('--host-key-policy <policy>', 'strict or accept-new (pin the first key seen)').choices(['strict', 'accept-new']))
    .option('--pinned-key <"algo base64">', 'a host key, as in known_hosts without the host (repeat)', (v: string, all: string[] = []) => [...all, v])
    .option('--max-concurrent-jobs <n>', 'at most this many of its jobs at once')
    .option('--description <text>', 'free text')
    .option('--json', 'print the host as one JSON document')
    .addHelpText('after', '\nExamples:\n  vmo hosts add db-1 deploy@10.0.0.5 --labels env=prod,role=db --host-key-policy accept-new\n  vmo hosts add web-2 deploy@web-2.internal:2222 --environment staging --proxy-jump bastion.example.com')
    .action(async (name: string, destination: string, opts: Record<string, string | string[] | boolean | undefined>, command: Command) => {
      const dest = parseDestination(destination);
      let max: number | undefined;
      if (opts.maxConcurrentJobs !== undefined) {
        max = Number(opts.maxConcurrentJobs);
        if (!Number.isInteger(max)) throw new CliError('--max-concurrent-jobs: must be a whole number', ExitCode.usage, 'usage');
      }
      const { client } = await connect(command);
      const host = await client.hosts.create({
        name,
        ...dest,
        ...(opts.environment !== undefined && { environment: opts.environment as string }),
        ...(opts.labels !== undefined && { labels: parseLabels(opts.labels as string) }),
        ...(opts.identityFile !== undefined && { identityFile: opts.identityFile as string }),
        ...(opts.proxyJump !== undefined && { proxyJump: opts.proxyJump as string }),
        ...(opts.hostKeyPolicy !== undefined && { hostKeyPolicy: opts.hostKeyPolicy as 'strict' | 'accept-new' }),
        ...(opts.pinnedKey !== undefined && { pinnedHostKeys: opts.pinnedKey as string[] }),
        ...(max !== undefined && { maxConcurrentJobs: max }),
        ...(opts.description !== undefined && { description: opts.description as string }),
      });
      if (opts.json) return printJson(host);
      process.stdout.write(`${host.ref} (${host.id}) added: ${host.user}@${host.host}:${host.port}\n`);
    });

  hosts
    .command('rm')
    .alias('remove')
    .summary('remove a host')
    .description('Remove a host from the inventory. Its jobs keep its id; a queued one fails with unknown_host.')
    .argument('<host>', 'a name, name@environment, or id (host_…)')
    .option('--json', 'print {"id", "ref"} of the host removed, one JSON document')
    .addHelpText('after', '\nExamples:\n  vmo hosts rm db-1\n  vmo hosts rm db-1@prod\n  vmo hosts rm --json db-1@prod | jq -r .id')
    .action(async (ref: string, opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      if (opts.json) {
        // The API answers a delete with nothing: the host is looked up first, and removed by its id, so
        // the document names the very host removed.
        const host = await client.hosts.get(ref);
        await client.hosts.delete(host.id);
        return printJson({ id: host.id, ref: host.ref });
      }
      await client.hosts.delete(ref);
      process.stdout.write(`${ref}: removed\n`);
    });

  hosts
    .command('import')
    .summary('import hosts from an OpenSSH client config, an Ansible inventory or vm-config files')
    .description(
      [
        'Import hosts. All or nothing: a file the API refuses writes nothing.',
        '--format ssh-config (the default): an OpenSSH client config, one host per concrete alias, with the settings ssh would use (HostName, User, Port, IdentityFile, ProxyJump, …). Never follows Include nor runs Match exec.',
        '--format ansible: an Ansible inventory, INI or YAML, read as ansible-inventory reads it (ranges, children, group vars); address, user and port from ansible_host, ansible_user and ansible_port; each group a label group.<name>=true.',
        '--format vm-config: a directory of environments (default ./environments), each <env>/config.yml listing vms: {name: {host, ansible_user, port?}}; each VM becomes host name@<env> labelled env=<env>.',
        'Prints each host created, updated or unchanged, and each entry skipped with the reason (and file and line), and what was imported with another meaning.',
      ].join('\n'),
    )
    .argument('[path]', 'the file (default: ~/.ssh/config; - reads stdin), or for vm-config the environments directory (default: ./environments)')
    .addOption(new Option('--format <format>', 'what the file is').choices(['ssh-config', 'ansible', 'vm-config']).default('ssh-config'))
    .addOption(new Option('--syntax <syntax>', 'ansible: the inventory is INI or YAML (default: YAML, then INI, as Ansible tries them)').choices(['ini', 'yaml']))
    .option('--environment <name>', 'ssh-config and ansible: the environment of the hosts it creates (default: default)')
    .option('--json', "the API's answer as one JSON document")
    .addHelpText(
      'after',
      '\nExamples:\n  vmo hosts import\n  vmo hosts import ./ssh_config --environment staging\n  cat config | vmo hosts import -\n  vmo hosts import --format ansible inventory/production.ini --environment prod\n  vmo hosts import --format vm-config ./environments',
    )
    .action(async (file: string | undefined, opts: { format: 'ssh-config' | 'ansible' | 'vm-config'; syntax?: 'ini' | 'yaml'; environment?: string; json?: boolean }, command: Command) => {
      if (opts.syntax && opts.format !== 'ansible') throw new CliError('--syntax: only with --format ansible', ExitCode.usage, 'usage');
      if (opts.environment && opts.format === 'vm-config') throw new CliError('--environment: a vm-config tree names its environments (<env>/config.yml)', ExitCode.usage, 'usage');
      const path = file ?? (opts.format === 'vm-config' ? 'environments' : opts.format === 'ssh-config' ? DEFAULT_SSH_CONFIG() : undefined);
      if (path === undefined) throw new CliError('path: the inventory file (or - for stdin) is required with --format ansible', ExitCode.usage, 'usage');
      const environment = opts.environment ? { environment: opts.environment } : {};
      let body: Parameters<Awaited<ReturnType<typeof connect>>['client']['hosts']['import']>[0];
      if (opts.format === 'vm-config') body = { format: 'vm-config', files: readVmConfigTree(path) };
      else {
        const text = readText(path);
        body = opts.format === 'ansible' ? { format: 'ansible', inventory: text, ...(opts.syntax ? { syntax: opts.syntax } : {}), ...environment } : { config: text, ...environment };
      }
      const { client } = await connect(command);
      const result = await client.hosts.import(body);
      if (opts.json) return printJson(result);
      const hostRow = (result: ImportRow['result']) => (h: Host): ImportRow => ({ result, name: h.ref, detail: `${h.user}@${h.host}:${h.port}` });
      const where = (s: { file?: string | undefined; line?: number | undefined }) => `${s.file ? `${s.file}${s.line === undefined ? ': ' : ' '}` : ''}${s.line === undefined ? '' : `line ${s.line}: `}`;
      const rows: ImportRow[] = [
        ...result.created.map(hostRow('created')),
        ...result.updated.map(hostRow('updated')),
        ...result.unchanged.map(hostRow('unchanged')),
        ...result.skipped.map((s): ImportRow => ({ result: 'skipped', name: s.alias, detail: `${where(s)}${s.reason}` })),
        ...result.warnings.map((w): ImportRow => ({ result: 'warning', name: w.aliases.join(',') || '-', detail: `line ${w.line} ${w.directive}: ${w.message}` })),
      ];
      printList(rows, IMPORT_COLUMNS, 'table', { empty: opts.format === 'ssh-config' ? 'no Host entry to import' : 'no host to import' });
      process.stderr.write(`${path}: ${result.created.length} created, ${result.updated.length} updated, ${result.unchanged.length} unchanged, ${result.skipped.length} skipped, ${result.warnings.length} warnings\n`);
    });
}

function readText(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new CliError(`${path}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
  }
}

/** `<dir>/<env>/config.yml` (or .yaml) of every environment directory, keyed `<env>/config.yml` as the API takes them. */
function readVmConfigTree(dir: string): Record<string, string> {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw new CliError(`${dir}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
  }
  const files: Record<string, string> = {};
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const name = ['config.yml', 'config.yaml'].find((f) => existsSync(join(dir, entry.name, f)));
    if (name) files[`${entry.name}/${name}`] = readText(join(dir, entry.name, name));
  }
  if (Object.keys(files).length === 0) throw new CliError(`${dir}: no <env>/config.yml in it (a vm-config tree is environments/<env>/config.yml)`);
  return files;
}
