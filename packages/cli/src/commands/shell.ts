import type { Command } from 'commander';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { commandLine } from '../job/command-line.ts';
import { runShell } from '../shell/run-shell.ts';

/**
 * `agent:NAME` → the agent; `host:NAME` → an SSH host (NAME is `name@environment`, a bare name, or
 * a `hst_…` id, resolved by the API as for `vmo run --host`); `workspace:NAME` → a workspace's agent
 * (your own by name, anyone's by `wks_…` id for an admin).
 */
export function parseShellTarget(target: string): { agent: string } | { host: string } | { workspace: string } {
  const colon = target.indexOf(':');
  const kind = colon < 0 ? '' : target.slice(0, colon);
  const name = target.slice(colon + 1);
  if (kind === 'agent' && name !== '') return { agent: name };
  if (kind === 'host' && name !== '') return { host: name };
  if (kind === 'workspace' && name !== '') return { workspace: name };
  throw new CliError(`TARGET: "${target}" must be agent:NAME, host:NAME or workspace:NAME`, ExitCode.usage, 'usage');
}

export function registerShell(program: Command): void {
  program
    .command('shell')
    .summary('an interactive shell on a machine')
    .description(
      "Open a terminal on an agent's machine, on an SSH host of the inventory (host:NAME, NAME as name@environment when the name is in several), or in a workspace (workspace:NAME, on its agent: yours, or any as an admin): your terminal goes into raw mode (every key, Ctrl-C included, goes to the remote shell), its size follows your window, and vmo exits with the remote shell's exit code (128+N when a signal N killed it). A dropped connection is reopened by itself, at the byte where it stopped: no output is lost or shown twice. After --, a command runs instead of the login shell. The session is recorded (GET /v1/sessions, /v1/sessions/{id}/logs; the dashboard's Sessions page).",
    )
    .argument('<target>', 'agent:NAME, host:NAME[@ENVIRONMENT] or workspace:NAME')
    .argument('[command...]', 'a command to run instead of the login shell (after --)')
    .addHelpText(
      'after',
      `
Examples:
  vmo shell agent:web-1                            a login shell; exit (or Ctrl-D) ends it
  vmo shell agent:web-1 -- top                     top in a terminal of your window's size
  vmo shell agent:web-1 -- sh -c 'echo hi; exit 3' prints hi, exits 3
  vmo shell host:db-1@prod                         a login shell on an SSH host (no agent)
  vmo shell workspace:my-box                       a login shell in your workspace (on its agent)

Exit status:
  0-125    the remote shell's (or command's) exit code
  128+N    it was killed by signal N (129: SIGHUP, a session reaped after the server's grace)
  75       detached (vmo got SIGTERM or SIGHUP): the session lives on for the server's grace
  70       vmo failed: the API refused (403: no run permission, 404: no such agent, host or workspace, 409: offline or stopped)
  2        bad usage`,
    )
    .action(async (target: string, argv: string[], _opts: unknown, command: Command) => {
      const on = parseShellTarget(target);
      const shellLine = argv.length > 0 ? commandLine(argv) : undefined;
      const { client } = await connect(command);
      process.exitCode = await runShell(client, { ...on, command: shellLine });
    });
}
