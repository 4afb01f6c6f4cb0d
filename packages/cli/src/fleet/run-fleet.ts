import { VmoApiError, type VmoClient } from '@vmo/client';
import { ExitCode } from '../exit-codes.ts';
import { CtrlC } from '../job/interrupt.ts';
import { colours } from '../output/colour.ts';
import { printJson } from '../output/list.ts';
import { LinePrefixer } from './line-prefixer.ts';
import { formatSummary } from './print-summary.ts';
import { ProgressBar, type Progress } from './progress-bar.ts';
import type { RetryRequest } from '../job/retry-flags.ts';

type CountOrPercent = number | `${number}%`;

export interface RunRequest {
  command: string;
  targets: { selector: string };
  env: Record<string, string>;
  cwd?: string | undefined;
  timeoutMs?: number | undefined;
  strategy: { maxConcurrency?: CountOrPercent; maxErrors?: CountOrPercent; canary?: { count: CountOrPercent; bakeMs?: number } };
  offline?: 'wait' | 'skip' | 'fail' | undefined;
  /** Not before this time (ISO 8601 with an offset): the whole run waits. */
  runAt?: string | undefined;
  /** 1 (lowest) to 10 (highest); every child has it. */
  priority?: number | undefined;
  /** Issue 14: every target's retry policy. */
  retry?: RetryRequest | undefined;
  /** Days the run and its children are kept once ended. */
  retainDays?: number | undefined;
}

const FINAL = new Set(['succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped']);

/**
 * `vmo run --selector …`: start a fleet run and follow it to its end. On a terminal, a progress
 * bar on stderr; with `stream`, every child's output prefixed by its target; at the end the
 * summary's groups (on stdout, or on stderr with `stream`, where stdout is the children's output).
 * Exit 0 only if every child succeeded (skipped is not succeeded), 130 when Ctrl-C canceled it, else 1.
 * A summary that cannot be made is left out ("summary unavailable: <code>" on stderr) and does not
 * change the exit status.
 */
export async function runFleet(client: VmoClient, request: RunRequest, opts: { detach: boolean; stream: boolean; json?: boolean }): Promise<number> {
  return followNewRun(client, () => client.runs.submit(request), opts);
}

type SubmittedRun = Awaited<ReturnType<VmoClient['runs']['submit']>>;

/**
 * Submit a run with `submit` (POST /v1/runs, or a saved command's run on several targets: `vmo
 * commands run`) and follow it as `vmo run --selector` does. `json` (with `detach`): `jsonOf` of
 * what `submit` answered.
 */
export async function followNewRun(client: VmoClient, submit: () => Promise<SubmittedRun>, opts: { detach: boolean; stream: boolean; json?: boolean; jsonOf?: () => unknown }): Promise<number> {
  if (opts.detach) {
    const run = await submit();
    if (opts.json) printJson(opts.jsonOf?.() ?? run);
    else process.stdout.write(`${run.id}\n`);
    return ExitCode.ok;
  }
  const ctrlC = new CtrlC('run');
  try {
    const run = await submit();
    ctrlC.attach(run.id, () => client.runs.cancel(run.id));
    const bar = process.stderr.isTTY ? new ProgressBar(process.stderr, colours(process.stderr)) : undefined;
    const progress: Progress = { done: 0, total: run.total, failed: 0, running: 0 };
    bar?.update(progress);
    const prefixer = opts.stream ? new LinePrefixer(() => bar?.clear(), () => bar?.redraw()) : undefined;

    // followRun() resumes from its own cursor after a close or a broken connection.
    const end = await client.runs.follow(run.id, {
      output: opts.stream,
      onOutput: (chunk) => prefixer?.write(chunk),
      onStatus: (s) => {
        if (FINAL.has(s.status)) prefixer?.flush(s.jobId);
      },
      onProgress: (p) => {
        progress.done = p.done;
        progress.total = p.total;
        progress.running = p.counts.running;
        progress.failed = p.counts.failed + p.counts.timed_out + p.counts.lost + p.counts.canceled + p.counts.skipped;
        bar?.update(progress);
      },
    });
    prefixer?.flushAll();
    bar?.finish();

    const out = opts.stream ? process.stderr : process.stdout;
    try {
      out.write(formatSummary(await client.runs.summary(run.id), colours(out)));
    } catch (err) {
      // The run has ended: its exit status is the run's, not vmo's 70. A summary that cannot be made
      // (503 summary_timeout on gigabytes of output, a dropped connection) only leaves it out.
      const code = err instanceof VmoApiError ? err.code : ((err as { cause?: { code?: string } }).cause?.code ?? 'error');
      process.stderr.write(`${colours(process.stderr).yellow(`summary unavailable: ${code}`)} (vmo runs show ${run.id} tries again)\n`);
    }
    if (end.status === 'canceled' && ctrlC.pressed) return ExitCode.canceled;
    // Every child succeeded: a run also `succeeded` with children skipped as offline (`--offline skip`), which is not that.
    const final = await client.runs.get(run.id);
    if (final.counts.succeeded === final.total) return ExitCode.ok;
    return ExitCode.runFailed;
  } finally {
    ctrlC.dispose();
  }
}
