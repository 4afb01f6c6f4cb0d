import type { Command } from 'commander';
import { VmoClient } from '@vmo/client';
import { configPath, readConfig, writeConfig } from '../config/config-file.ts';
import { readToken } from '../config/read-token.ts';
import { checkUrl, type GlobalOptions } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';

export function registerLogin(program: Command): void {
  program
    .command('login')
    .summary('check a server and token, and save them as a context')
    .usage('--server URL [--token T] [--name NAME]')
    .description(
      `Check the server and the token against the API (GET /v1/me) and save them as a named context in ${'$XDG_CONFIG_HOME'}/vmo/config.json (default ~/.config/vmo/config.json; the file is readable by you only, mode 0600). The context becomes the current one. Without --token, the token is read from stdin, or typed at a prompt that does not show it: a token on a command line is visible to other users of the machine (ps) and stays in your shell's history.\n\nWhich server and token a command uses: --server/--token, then VMO_SERVER/VMO_TOKEN, then --context NAME, then the current context. A context's token is only ever sent to that context's server.`,
    )
    // --server and --token are the program's own options (they parse anywhere on the line); login requires the one and reads the other.
    .option('--name <context>', 'the name of the context (default: the server\'s host and port)')
    .addHelpText(
      'after',
      `
Examples:
  vmo login --server https://vmo.example.com                   asks for the token
  vmo login --server https://vmo.example.com < ~/vmo-token      reads it from a file
  vmo login --server http://127.0.0.1:3121 --name dev < token
  vmo context use dev`,
    )
    .action(async (opts: { name?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (globals.server === undefined) throw new CliError('login needs --server URL (the API, as its users reach it)', ExitCode.usage, 'usage');
      const server = checkUrl(globals.server, '--server');
      const token = globals.token ?? (await readToken());
      // Nothing is saved unless the API accepts this token: a typo fails here, not at the next command.
      const me = await new VmoClient({ baseUrl: server, token }).users.me();
      const name = opts.name ?? new URL(server).host;
      const config = readConfig();
      config.contexts[name] = { server, token, user: me.name };
      config.current = name;
      writeConfig(config);
      process.stdout.write(`logged in to ${server} as ${me.name} (${me.role}); context "${name}" is current (${configPath()})\n`);
    });
}
