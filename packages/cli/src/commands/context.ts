import type { Command } from 'commander';
import { configPath, readConfig, writeConfig } from '../config/config-file.ts';
import { CliError } from '../errors.ts';
import { outputFormat, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';

/** A context as `vmo context ls` shows it: never its token, only whether one is stored. */
interface ContextRow {
  name: string;
  current: boolean;
  server: string;
  user: string | null;
  tokenStored: boolean;
}

const CONTEXT_COLUMNS: Column<ContextRow>[] = [
  { header: 'CURRENT', value: (r) => (r.current ? '*' : '') },
  { header: 'NAME', value: (r) => r.name },
  { header: 'SERVER', value: (r) => r.server },
  { header: 'USER', value: (r) => r.user ?? '-' },
  { header: 'TOKEN', value: (r) => (r.tokenStored ? 'stored' : 'none'), wide: true },
];

export function registerContext(program: Command): void {
  const context = program
    .command('context')
    .summary('list, switch and remove saved contexts (server + token)')
    .description('The contexts `vmo login` saved. The current one is used when neither --server/--token, VMO_SERVER/VMO_TOKEN nor --context says otherwise.')
    .addHelpText(
      'after',
      `
Examples:
  vmo context ls
  vmo context use prod
  vmo context rm old-lab`,
    );

  withListOutput(
    context
      .command('ls')
      .alias('list')
      .description('list the contexts (* marks the current one); tokens are never shown (-o wide: whether one is stored)'),
  )
    .addHelpText('after', "\nExamples:\n  vmo context ls\n  vmo context ls -o wide\n  vmo context ls --json | jq -r '.[] | select(.current) | .server'")
    .action((opts: ListOptions) => {
      const format = outputFormat(opts);
      const config = readConfig();
      // LOUD: a row is built without the token, so no format (JSON included) can print it.
      const rows: ContextRow[] = Object.entries(config.contexts).map(([name, ctx]) => ({
        name,
        current: name === config.current,
        server: ctx.server,
        user: ctx.user ?? null,
        tokenStored: typeof ctx.token === 'string' && ctx.token !== '',
      }));
      printList(rows, CONTEXT_COLUMNS, format, { empty: 'no contexts (vmo login --server URL saves one)' });
    });

  context
    .command('use')
    .description('make a context the current one')
    .argument('<name>', 'the context')
    .addHelpText('after', '\nExamples:\n  vmo context use prod')
    .action((name: string) => {
      const config = readConfig();
      if (!config.contexts[name]) throw new CliError(`no context named "${name}" in ${configPath()} (vmo context ls lists them)`);
      config.current = name;
      writeConfig(config);
      process.stdout.write(`context "${name}" is current (${config.contexts[name].server})\n`);
    });

  context
    .command('rm')
    .alias('remove')
    .description('forget a context and its token (the token itself stays valid: revoke it on the server)')
    .argument('<name>', 'the context')
    .addHelpText('after', '\nExamples:\n  vmo context rm old-lab')
    .action((name: string) => {
      const config = readConfig();
      if (!config.contexts[name]) throw new CliError(`no context named "${name}" in ${configPath()} (vmo context ls lists them)`);
      delete config.contexts[name];
      if (config.current === name) delete config.current;
      writeConfig(config);
      process.stdout.write(`context "${name}" removed${config.current === undefined ? '; no context is current now (vmo context use NAME)' : ''}\n`);
    });
}
