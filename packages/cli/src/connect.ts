import type { Command } from 'commander';
import { VmoClient } from '@vmo/client';
import { CliError } from './errors.ts';

/** The program's global options (`vmo --server … <command>`), seen from any subcommand. */
export interface GlobalOptions {
  server?: string;
  token?: string;
  context?: string;
}

export interface Connection {
  client: VmoClient;
  /** The API's base URL, as resolved (flag, VMO_SERVER, or the context). */
  server: string;
}

/**
 * The client a command talks through: `--server`/`--token`, then `VMO_SERVER`/`VMO_TOKEN`, then
 * the current context of the config file. (Skeleton: the config file comes with `vmo login`.)
 */
export async function connect(command: Command): Promise<Connection> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const server = globals.server ?? process.env.VMO_SERVER;
  const token = globals.token ?? process.env.VMO_TOKEN;
  if (!server) throw new CliError('no server: run `vmo login --server URL`, or set VMO_SERVER');
  return { client: new VmoClient({ baseUrl: server, token }), server };
}
