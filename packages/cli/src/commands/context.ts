import type { Command } from 'commander';
import { configPath, readConfig, writeConfig } from '../config/config-file.ts';
import { CliError } from '../errors.ts';

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

  context
    .command('ls')
    .alias('list')
    .description('list the contexts (* marks the current one); tokens are never shown')
    .addHelpText('after', '\nExample:\n  vmo context ls')
    .action(() => {
      const config = readConfig();
      const rows = Object.entries(config.contexts).map(([name, ctx]) => [name === config.current ? '*' : '', name, ctx.server, ctx.user ?? '']);
      const cells = [['CURRENT', 'NAME', 'SERVER', 'USER'], ...rows];
      const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
      for (const row of cells) process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
    });

  context
    .command('use')
    .description('make a context the current one')
    .argument('<name>', 'the context')
    .addHelpText('after', '\nExample:\n  vmo context use prod')
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
    .addHelpText('after', '\nExample:\n  vmo context rm old-lab')
    .action((name: string) => {
      const config = readConfig();
      if (!config.contexts[name]) throw new CliError(`no context named "${name}" in ${configPath()} (vmo context ls lists them)`);
      delete config.contexts[name];
      if (config.current === name) delete config.current;
      writeConfig(config);
      process.stdout.write(`context "${name}" removed${config.current === undefined ? '; no context is current now (vmo context use NAME)' : ''}\n`);
    });
}
