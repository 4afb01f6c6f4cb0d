import { closeSync, fsyncSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { registerAgent, type Agent } from '@vmo/shared/api';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { shellQuote } from '../job/command-line.ts';
import { ago, allPages, labelText, outputFormat, printJson, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';

/** `k=v,k2=v2` → labels; the server checks keys and values (a 400 naming the label). */
export function parseLabels(text: string, option = '--labels'): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`${option}: "${pair}" is not k=v (labels are k=v pairs separated by commas)`, ExitCode.usage, 'usage');
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

const AGENT_COLUMNS: Column<Agent>[] = [
  { header: 'NAME', value: (a) => a.name },
  { header: 'STATUS', value: (a) => a.status, colour: (a, c) => (a.status === 'online' ? c.green : c.dim) },
  { header: 'LABELS', value: (a) => labelText(a.labels) || '-' },
  { header: 'VERSION', value: (a) => a.version ?? '-' },
  { header: 'LAST SEEN', value: (a) => (a.status === 'online' ? 'now' : ago(a.lastSeenAt)) },
  { header: 'RUNNING', value: (a) => `${a.runningJobs}${a.maxConcurrentJobs === null ? '' : `/${a.maxConcurrentJobs}`}`, wide: true },
  { header: 'ID', value: (a) => a.id, wide: true },
  { header: 'HOSTNAME', value: (a) => a.hostname ?? '-', wide: true },
  { header: 'OS', value: (a) => (a.os === null ? '-' : `${a.os}${a.arch ? `/${a.arch}` : ''}`), wide: true },
];

/** The line a VM runs: the installer from this server, the token from a file (never on the command line). */
export function installCommand(server: string, tokenFile: string): string {
  const base = server.replace(/\/+$/, '');
  return `curl -fsSL ${shellQuote(`${base}/v1/agent/install.sh`)} | sudo sh -s -- --server ${shellQuote(base)} --token-file ${shellQuote(tokenFile)}`;
}

/**
 * An agent's name as the API checks it (the schema of POST /v1/agents, not a copy of its rule),
 * or a usage error naming it. Checked before anything is built from the name: the default token
 * file is `./NAME.token`, and `../x` would put it outside the directory.
 */
export function checkAgentName(name: string): string {
  const checked = registerAgent.request.body.content['application/json'].schema.shape.name.safeParse(name);
  if (!checked.success) throw new CliError(`NAME: ${JSON.stringify(name)} ${checked.error.issues[0]?.message ?? 'is not a valid agent name'}`, ExitCode.usage, 'usage');
  return checked.data;
}

/** Whether a URL's host is this machine (127.0.0.0/8, ::1, localhost): the rule install.sh applies to http://. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  } catch {
    return false;
  }
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** One warning line when the server is plain http on another machine: the VM's installer refuses it (without --insecure-http). */
export function plainHttpWarning(server: string): string | undefined {
  if (!/^http:/i.test(server) || isLoopbackUrl(server)) return undefined;
  return `vmo: warning: ${server} is plain http: the agent's token would cross the network in cleartext and its code could be swapped on the way, so the installer refuses such a server unless given --insecure-http; use an https:// server\n`;
}

export function registerAgents(program: Command): void {
  const agents = program
    .command('agents')
    .summary('list, add and remove agents')
    .description('The agents: machines running vmo-agent, which dial out to the control plane and run its jobs.')
    .addHelpText('after', '\nExamples:\n  vmo agents ls\n  vmo agents add web-1 --labels env=prod,role=web\n  vmo agents rm web-1');

  withListOutput(
    agents
      .command('ls')
      .alias('list')
      .summary('list agents')
      .description('Every agent you may see: name, status, labels, version and when it was last seen (-o wide: running jobs, id, hostname, OS).'),
  )
    .addHelpText('after', '\nExamples:\n  vmo agents ls\n  vmo agents ls -o wide\n  vmo agents ls --json | jq -r \'.[] | select(.status == "online") | .name\'')
    .action(async (opts: ListOptions, command: Command) => {
      const format = outputFormat(opts);
      const { client } = await connect(command);
      const rows = await allPages((cursor) => client.agents.list({ limit: 500, ...(cursor ? { cursor } : {}) }));
      printList(rows, AGENT_COLUMNS, format, { empty: 'no agents (vmo agents add NAME registers one)' });
    });

  agents
    .command('add')
    .summary('register an agent and print its install command')
    .description(
      [
        'Register an agent. Its token (shown once by the server) is written to a file of mode 0600, never printed; the command prints the one line to run on the VM, which installs the agent with that token file (copy the file there first).',
        'Labels given here are the registered ones: policies and selectors see them, and they win over what the agent reports.',
      ].join('\n'),
    )
    .argument('<name>', "the agent's name (letters, digits, _ . -)")
    .option('--labels <k=v,...>', 'registered labels, e.g. env=prod,role=web')
    .option('--token-file <path>', 'where to write the token (mode 0600; it must not exist yet)', undefined)
    .option('--json', 'print the agent, its token file and install command as one JSON document (never the token)')
    .addHelpText(
      'after',
      `
Examples:
  vmo agents add web-1 --labels env=prod,role=web
  scp web-1.token web-1:                      # then on web-1:
  curl -fsSL https://vmo.example.com/v1/agent/install.sh | sudo sh -s -- --server https://vmo.example.com --token-file web-1.token`,
    )
    .action(async (name: string, opts: { labels?: string; tokenFile?: string; json?: boolean }, command: Command) => {
      checkAgentName(name);
      const labels = opts.labels === undefined ? undefined : parseLabels(opts.labels);
      const path = opts.tokenFile ?? `./${name}.token`;
      const { client, server } = await connect(command);
      const warning = plainHttpWarning(server);
      if (warning) process.stderr.write(warning);
      // LOUD: the file is created (exclusively, 0600) BEFORE the agent: the token is answered only
      // once, so a file we could not write after registering would lose it for good.
      let fd: number;
      try {
        fd = openSync(path, 'wx', 0o600);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new CliError(code === 'EEXIST' ? `--token-file: ${path} exists already: remove it or give another path (a token is never overwritten)` : `--token-file: cannot create ${path} (${code})`);
      }
      let registered;
      try {
        registered = await client.agents.register({ name, ...(labels ? { labels } : {}) });
      } catch (err) {
        closeSync(fd);
        unlinkSync(path);
        throw err;
      }
      try {
        writeFileSync(fd, `${registered.token}\n`);
        fsyncSync(fd);
        closeSync(fd);
      } catch (err) {
        // LOUD: the token was answered once and could not be kept: an agent nobody can ever
        // connect as would be left registered. Revoke it, and say so.
        const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        try {
          closeSync(fd);
        } catch {
          // already closed (the write succeeded, the close failed)
        }
        try {
          unlinkSync(path);
        } catch {
          // gone already: nothing of the token is left
        }
        try {
          await client.agents.revoke(registered.id);
        } catch (revokeErr) {
          const reason = revokeErr instanceof Error ? revokeErr.message : String(revokeErr);
          throw new CliError(`--token-file: could not write the token to ${path} (${why}), and revoking agent ${name} (${registered.id}) failed too (${reason}): its token is lost; revoke it with: vmo agents rm ${registered.id}`);
        }
        throw new CliError(`--token-file: could not write the token to ${path} (${why}): agent ${name} (${registered.id}) was registered, then revoked again (its token, shown only once, is lost); run the command again with a writable --token-file`);
      }
      const { token: _shownOnce, ...agent } = registered;
      // The file's name only: it is copied to the VM (scp), into the directory the command runs in.
      const install = installCommand(server, basename(path));
      if (opts.json) return printJson({ ...agent, tokenFile: path, installCommand: install });
      process.stderr.write(`agent ${agent.name} (${agent.id}) registered; its token is in ${path} (mode 0600, shown nowhere else).\nOn the VM (Node ≥ 20 and curl), in the directory you copied ${basename(path)} to, run:\n`);
      process.stdout.write(`${install}\n`);
    });

  agents
    .command('rm')
    .alias('remove')
    .summary('revoke an agent')
    .description('Revoke an agent: its token is refused from now on, its connection is closed and its running jobs end failed (agent_revoked). The installed agent stays on the VM: remove it there with the installer\'s --uninstall.')
    .argument('<agent>', 'a name or id (agt_…)')
    .option('--json', 'print {"id", "name"} of the agent revoked, one JSON document')
    .addHelpText('after', '\nExamples:\n  vmo agents rm web-1\n  vmo agents rm agt_0123456789abcdefghij\n  vmo agents rm --json web-1 | jq -r .id')
    .action(async (ref: string, opts: { json?: boolean }, command: Command) => {
      const { client } = await connect(command);
      // --json: the API answers a revoke with nothing, so the agent is looked up first and revoked by its id.
      const agent = opts.json ? await client.agents.get(ref) : undefined;
      await client.agents.revoke(agent?.id ?? ref);
      if (agent) return printJson({ id: agent.id, name: agent.name });
      process.stdout.write(`${ref}: revoked\n`);
    });
}
