import type { Command } from 'commander';
import { VmoClient } from '@vmo/client';
import { configPath, readConfig } from './config/config-file.ts';
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

export interface ResolvedTarget {
  server: string;
  token: string | undefined;
  /** Where the server came from: the flag, the environment, or a context's name. */
  from: 'flag' | 'env' | { context: string };
}

/**
 * Which server and token a command uses, each by the same precedence: `--server`/`--token`, then
 * `VMO_SERVER`/`VMO_TOKEN`, then the context (`--context NAME`, else the current one).
 *
 * LOUD: a context's token goes only to that context's server. When the server comes from a flag or
 * VMO_SERVER and is another URL, the context's token is not sent (it would hand a credential to a
 * server it was never meant for); give --token or VMO_TOKEN with it.
 */
export function resolveTarget(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): ResolvedTarget {
  const config = readConfig();
  const contextName = globals.context ?? config.current;
  const context = contextName === undefined ? undefined : config.contexts[contextName];
  if (globals.context !== undefined && !context) {
    throw new CliError(`--context: no context named "${globals.context}" in ${configPath()} (vmo context ls lists them)`);
  }
  const flagOrEnvServer = globals.server ?? env.VMO_SERVER;
  const server = flagOrEnvServer ?? context?.server;
  if (!server) throw new CliError('no server: run `vmo login --server URL`, or set VMO_SERVER (or give --server)');
  const sameServer = context !== undefined && normalise(context.server) === normalise(server);
  const token = globals.token ?? env.VMO_TOKEN ?? (sameServer ? context.token : undefined);
  const from: ResolvedTarget['from'] = globals.server !== undefined ? 'flag' : env.VMO_SERVER !== undefined ? 'env' : { context: contextName! };
  return { server, token, from };
}

/** The client a command talks through, as resolveTarget() picks its server and token. */
export async function connect(command: Command): Promise<Connection> {
  const { server, token } = resolveTarget(command.optsWithGlobals<GlobalOptions>());
  return { client: new VmoClient({ baseUrl: checkUrl(server, 'server'), token }), server };
}

/** A URL the client can use (http or https), or a CliError naming where it came from. */
export function checkUrl(url: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`${what}: not a URL (like https://vmo.example.com)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CliError(`${what}: must be an http:// or https:// URL`);
  return url.replace(/\/+$/, '');
}

const normalise = (url: string) => url.replace(/\/+$/, '').toLowerCase();
