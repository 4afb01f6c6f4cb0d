import type { VmoClient } from '@vmo/client';
import { ExitCode } from '../exit-codes.ts';
import { colours } from '../output/colour.ts';
import { printJson } from '../output/list.ts';
import { followJobOutput } from './follow-job-output.ts';
import { CtrlC } from './interrupt.ts';
import { describeEnding, jobExitCode, type JobEnding } from './job-exit-code.ts';
import type { RetryRequest } from './retry-flags.ts';

export type JobTarget = { type: 'local' } | { type: 'agent'; agent: string } | { type: 'ssh'; host: string };

export interface JobRequest {
  command: string;
  target: JobTarget;
  env: Record<string, string>;
  cwd?: string | undefined;
  timeoutMs?: number | undefined;
  /** Not before this time (ISO 8601 with an offset). */
  runAt?: string | undefined;
  /** 1 (lowest) to 10 (highest). */
  priority?: number | undefined;
  /** Issue 14: run again when an attempt fails. */
  retry?: RetryRequest | undefined;
  /** Days kept once ended (retention). */
  retainDays?: number | undefined;
}

/**
 * `vmo run` on one target: submit, then write the job's output as it comes (stdout to stdout,
 * stderr to stderr, the bytes as they are) and return the exit status its ending means.
 * With `detach`, print the job id (`json`: the job as the API answered) and return at once.
 */
export async function runJob(client: VmoClient, request: JobRequest, opts: { detach: boolean; json?: boolean }): Promise<number> {
  return followNewJob(client, () => client.jobs.submit(request), opts);
}

type SubmittedJob = Awaited<ReturnType<VmoClient['jobs']['submit']>>;

/**
 * Submit a job with `submit` (POST /v1/jobs, or a saved command's run: `vmo commands run`) and
 * follow it as `vmo run` does: its output byte for byte, Ctrl-C cancels then detaches, and the
 * exit status its ending means. `json` (with `detach`): `jsonOf` of what `submit` answered.
 */
export async function followNewJob(client: VmoClient, submit: () => Promise<SubmittedJob>, opts: { detach: boolean; json?: boolean; jsonOf?: () => unknown }): Promise<number> {
  if (opts.detach) {
    const job = await submit();
    if (opts.json) printJson(opts.jsonOf?.() ?? job);
    else process.stdout.write(`${job.id}\n`);
    return ExitCode.ok;
  }
  const ctrlC = new CtrlC('job');
  try {
    const job = await submit();
    ctrlC.attach(job.id, () => client.jobs.cancel(job.id));
    // Said once, on a terminal: the output that follows may be a long time coming.
    if (job.runAt !== null && job.startedAt === null && Date.parse(job.runAt) > Date.now() && process.stderr.isTTY) {
      process.stderr.write(`${colours(process.stderr).dim(`vmo: job ${job.id} waits until ${job.runAt} (Ctrl-C cancels it)`)}\n`);
    }
    return await followToExit(client, job.id);
  } finally {
    ctrlC.dispose();
  }
}

/**
 * Follow a job to its end writing its output byte for byte, and return its exit status (also
 * `vmo logs -f`). `stream` keeps one stream only, written to stdout.
 */
export async function followToExit(client: VmoClient, jobId: string, opts: { stream?: 'stdout' | 'stderr' | undefined; attempt?: number | undefined } = {}): Promise<number> {
  const tty = process.stderr.isTTY === true;
  const end = await followJobOutput(client, jobId, {
    stream: opts.stream,
    attempt: opts.attempt,
    // A retried job (issue 14): the next attempt's output follows the last one's; said on a terminal.
    onAttempt: (attempt, retryAt) => {
      if (tty) process.stderr.write(colours(process.stderr).dim(`(attempt ${attempt}${retryAt ? `, due ${retryAt}` : ''})`) + '\n');
    },
    // LOUD: the Buffer as it is, never a string: a string would re-encode bytes that are not UTF-8.
    // One stream asked for (`vmo logs -f --stream stderr`): it goes to stdout, to be piped.
    onOutput: (chunk) => (opts.stream !== undefined || chunk.stream === 'stdout' ? process.stdout : process.stderr).write(chunk.data),
    onResume: () => {
      if (tty) process.stderr.write(colours(process.stderr).dim('(connection lost; resuming the output where it stopped)') + '\n');
    },
  });
  let ending: JobEnding = end;
  // The end frame has no `error`: ask for the job when only its error can say how it ended (agent_offline, …).
  if (end.status !== 'succeeded' && end.exitCode === null && end.signal === null) ending = await client.jobs.get(jobId);
  const code = jobExitCode(ending);
  const notice = describeEnding(jobId, ending);
  // vmo's own words on stderr after the job's output: always when the job ended without its command
  // deciding (an error, lost, a timeout), on a terminal only for a cancel or a signal.
  const quietUnlessTty = ending.status === 'canceled' || (ending.status === 'failed' && ending.signal !== null);
  if (notice && (tty || !quietUnlessTty)) process.stderr.write(`${colours(process.stderr).yellow(`vmo: ${notice}`)}\n`);
  return code;
}
