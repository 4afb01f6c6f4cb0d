import type { Command } from 'commander';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { followToExit } from '../job/run-job.ts';

interface LogsOptions {
  follow?: boolean;
  stream?: string;
  attempt?: string;
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .summary("print a job's output")
    .description(
      "Print a job's stored output, byte for byte: stdout to stdout and stderr to stderr. With -f, follow it live until the job ends and exit with the job's exit code (as vmo run does).",
    )
    .argument('<job>', 'the job id (job_…)')
    .option('-f, --follow', 'follow the output until the job ends, then exit with its exit code')
    .option('--stream <stdout|stderr>', 'one stream only, written to stdout (both by default, each to its own)')
    .option('--attempt <n>', "a retried job: this attempt's output (1 for the first; default the latest); with -f, from it through the later ones")
    .addHelpText(
      'after',
      `
Examples:
  vmo logs job_0123456789abcdefghij              what it wrote so far
  vmo logs -f job_0123456789abcdefghij           live, to its end; exits with its code
  vmo logs --stream stderr job_0123456789abcdefghij > err.txt
  vmo logs --attempt 1 job_0123456789abcdefghij  the first attempt of a retried job (vmo jobs show lists them)

A job whose output retention has deleted (VMO_OUTPUT_RETENTION_DAYS) answers output_expired.`,
    )
    .action(async (jobId: string, opts: LogsOptions, command: Command) => {
      const stream = opts.stream === undefined ? undefined : parseStream(opts.stream);
      const attempt = opts.attempt === undefined ? undefined : parseAttempt(opts.attempt);
      const { client } = await connect(command);
      if (opts.follow) {
        // The stream of a job whose output retention deleted would end with nothing: say why instead, as the logs do (410).
        if ((await client.jobs.get(jobId)).outputExpired) {
          throw new CliError(`job "${jobId}": its output was deleted by retention (VMO_OUTPUT_RETENTION_DAYS, or the job's retainDays); vmo jobs show ${jobId} has the rest`, ExitCode.cliError, 'output_expired');
        }
        process.exitCode = await followToExit(client, jobId, { stream, attempt });
        return;
      }
      const which = attempt === undefined ? {} : { attempt };
      if (stream) {
        // One stream: the raw bytes of that stream as the API answers them.
        process.stdout.write(await client.jobs.logs(jobId, { stream, ...which }));
        return;
      }
      // Both: each chunk to its own stream, in the order they were written.
      const chunks = await client.jobs.logChunks(jobId, which);
      for (const chunk of chunks) (chunk.stream === 'stdout' ? process.stdout : process.stderr).write(Buffer.from(chunk.data, 'base64'));
    });
}

function parseStream(value: string): 'stdout' | 'stderr' {
  if (value === 'stdout' || value === 'stderr') return value;
  throw new CliError(`--stream: "${value}" must be stdout or stderr`, ExitCode.usage, 'usage');
}

/** `--attempt`: 1 for the first (the server says 404 for one the job has not reached). */
function parseAttempt(value: string): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1) throw new CliError(`--attempt: "${value}" must be an attempt number (1 for the first)`, ExitCode.usage, 'usage');
  return Number(value);
}
