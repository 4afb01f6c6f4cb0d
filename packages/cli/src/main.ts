/**
 * `vmo`: the command line. Each command lives in its own file under commands/ and registers itself
 * on the program; this file only assembles them and turns an error into its exit code.
 */
import { Command } from 'commander';
import { reportError } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { registerCommands } from './commands/index.ts';
import { CLI_VERSION } from './version.ts';

const program = new Command('vmo')
  .description('vm-orchestrator: run commands on machines, follow their output, manage agents and hosts')
  .version(CLI_VERSION, '-V, --version')
  .option('--server <url>', 'the API (default: the current context, or VMO_SERVER)')
  .option('--token <token>', 'a token (default: the current context, or VMO_TOKEN); prefer a context: a token on a command line is visible to other users of the machine')
  .option('--context <name>', 'use this context instead of the current one')
  // Every command's --help lists --server, --token and --context too (they parse anywhere on the line).
  .configureHelp({ showGlobalOptions: true })
  .showHelpAfterError('(vmo <command> --help shows its usage and an example)')
  .configureOutput({ outputError: (text, write) => write(text) })
  // Commander's errors are thrown (reportError gives them vmo's usage code, 2) instead of exiting with 1.
  .exitOverride()
  .addHelpText(
    'after',
    `
Examples:
  vmo login --server https://vmo.example.com          save a context (the token is asked for)
  vmo run --on agent:web-1 -- sh -c 'echo hi; exit 3'  prints hi, exits 3
  vmo run --selector env=prod --stream -- uptime       on every matching machine
  vmo logs -f job_0123456789abcdefghij`,
  );

// `vmo run … | head`: the reader went away. Exit as a shell's pipeline would (128 + SIGPIPE), without
// a stack trace; the job itself goes on (vmo logs, vmo cancel).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(ExitCode.stdoutClosed);
  throw err;
});

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
}
// Exit now rather than when the last socket lets go (fetch's keep-alive, a stream's close), once
// what was written to stdout and stderr is out: a job's last bytes are never cut off.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
process.exit(process.exitCode ?? 0);
