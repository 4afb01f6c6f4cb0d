import type { Command } from 'commander';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { followToExit } from '../job/run-job.ts';

interface LogsOptions {
  follow?: boolean;
  stream?: string;
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
    .addHelpText(
      'after',
      `
Examples:
  vmo logs job_0123456789abcdefghij              what it wrote so far
  vmo logs -f job_0123456789abcdefghij           live, to its end; exits with its code
  vmo logs --stream stderr job_0123456789abcdefghij > err.txt`,
    )
    .action(async (jobId: string, opts: LogsOptions, command: Command) => {
      const stream = opts.stream === undefined ? undefined : parseStream(opts.stream);
      const { client } = await connect(command);
      if (opts.follow) {
        process.exitCode = await followToExit(client, jobId, { stream });
        return;
      }
      if (stream) {
        // One stream: the raw bytes of that stream as the API answers them.
        process.stdout.write(await client.jobs.logs(jobId, { stream }));
        return;
      }
      // Both: each chunk to its own stream, in the order they were written.
      const chunks = await client.jobs.logChunks(jobId);
      for (const chunk of chunks) (chunk.stream === 'stdout' ? process.stdout : process.stderr).write(Buffer.from(chunk.data, 'base64'));
    });
}

function parseStream(value: string): 'stdout' | 'stderr' {
  if (value === 'stdout' || value === 'stderr') return value;
  throw new CliError(`--stream: "${value}" must be stdout or stderr`, ExitCode.usage, 'usage');
}
