import type { Command } from 'commander';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { parseDuration } from '../job/duration.ts';
import { printJson } from '../output/list.ts';

export function registerCancel(program: Command): void {
  program
    .command('cancel')
    .summary('cancel a job or a fleet run')
    .description(
      'Cancel a job (job_…) or a fleet run (run_…), told apart by the id\'s prefix. A queued job ends canceled at once; a running one gets SIGTERM, then SIGKILL after the grace. A run starts no further target and stops the running ones the same way.',
    )
    .argument('<id>', 'a job id (job_…) or a run id (run_…)')
    .option('--grace <duration>', 'time between SIGTERM and SIGKILL (server default: 10s)')
    .option('--json', "the job (or run) as the API answered the cancel, one JSON document")
    .addHelpText(
      'after',
      `
Examples:
  vmo cancel job_0123456789abcdefghij
  vmo cancel --grace 1m run_0123456789abcdefghij
  vmo cancel --json job_0123456789abcdefghij | jq -r .status`,
    )
    .action(async (id: string, opts: { grace?: string; json?: boolean }, command: Command) => {
      const body = opts.grace === undefined ? undefined : { graceMs: parseDuration(opts.grace, '--grace') };
      const kind = id.startsWith('job_') ? 'job' : id.startsWith('run_') ? 'run' : undefined;
      if (!kind) throw new CliError(`"${id}" is neither a job id (job_…) nor a run id (run_…)`, ExitCode.usage, 'usage');
      const { client } = await connect(command);
      if (kind === 'job') {
        const job = await client.jobs.cancel(id, body);
        if (opts.json) return printJson(job);
        process.stdout.write(`${job.id}: ${job.status === 'canceled' ? 'canceled' : `canceling (was ${job.status})`}\n`);
      } else {
        const run = await client.runs.cancel(id, body);
        if (opts.json) return printJson(run);
        process.stdout.write(`${run.id}: ${run.status === 'canceled' ? 'canceled' : `canceling (${run.progress.done}/${run.progress.total} done)`}\n`);
      }
    });
}
