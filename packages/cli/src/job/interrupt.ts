import { VmoApiError } from '@vmo/client';
import { ExitCode } from '../exit-codes.ts';
import { colours } from '../output/colour.ts';

/**
 * Ctrl-C while `vmo run` waits for its job or run: the first
 * cancels it (default grace) and keeps following it to its end, so the exit status says how it
 * really ended; the second detaches: it leaves the job or run as it is, prints its id and exits 75
 * (ExitCode.detached: the job goes on, unlike 130, canceled).
 */
export class CtrlC {
  private count = 0;
  private target: { id: string; cancel(): Promise<unknown> } | undefined;
  private readonly listener = () => this.onSigint();

  constructor(private readonly what: 'job' | 'run') {
    process.on('SIGINT', this.listener);
  }

  /** True once Ctrl-C was pressed (the job or run was asked to cancel). */
  get pressed(): boolean {
    return this.count > 0;
  }

  /** The job or run exists now: a Ctrl-C pressed while it was being submitted cancels it at once. */
  attach(id: string, cancel: () => Promise<unknown>): void {
    this.target = { id, cancel };
    if (this.count > 0) this.cancel();
  }

  dispose(): void {
    process.off('SIGINT', this.listener);
  }

  private onSigint(): void {
    this.count++;
    const c = colours(process.stderr);
    if (this.count === 1) {
      process.stderr.write(c.yellow(`canceling… (Ctrl-C again to detach)`) + '\n');
      if (this.target) this.cancel();
      return;
    }
    if (this.target) {
      process.stderr.write(`detached; the ${this.what} goes on: ${this.target.id}\n`);
      process.stderr.write(this.what === 'job' ? `  vmo logs -f ${this.target.id}\n` : `  vmo runs show ${this.target.id}\n`);
    } else {
      // The submit may have reached the server all the same: not 130 (canceled), it may go on.
      process.stderr.write(`interrupted before the ${this.what} was accepted (it may have been: vmo ${this.what === 'job' ? 'jobs' : 'runs'} ls)\n`);
    }
    process.exit(ExitCode.detached);
  }

  private cancel(): void {
    this.target!.cancel().catch((err: unknown) => {
      // It ended meanwhile: following it shows how.
      if (err instanceof VmoApiError && (err.code === 'job_ended' || err.code === 'run_ended')) return;
      const message = err instanceof VmoApiError ? `${err.code}: ${err.message}` : (err as Error).message;
      process.stderr.write(`${colours(process.stderr).red('vmo: cancel failed:')} ${message}\n`);
    });
  }
}
