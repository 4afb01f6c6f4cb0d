import type { RecordedChunk } from '@vmo/shared/output';

/**
 * The agent's buffer of output not yet acknowledged by the server, across all jobs
 * (PROTOCOL.md §3). Bounded in bytes: when it reaches the bound the owner pauses every job's
 * pipes (the commands block on write) and resumes them once acks bring it below half.
 *
 * LOUD: a chunk leaves this buffer only through `ack` (the server has it in Postgres), or
 * through `dropJob` when the server said it no longer wants the job (exit_ack, abandon).
 * Dropping it anywhere else loses output for good; the agent is the only copy.
 *
 * The bound can be passed by at most what arrives between reaching it and the pause taking
 * effect: one pipe read (≤ 64 KiB) per job. The cap's tail, emitted when a job ends, is also
 * added unconditionally: it is already in memory (OutputRecorder), so holding it here costs
 * nothing more, and refusing it would lose it.
 */
export class OutputBuffer {
  private readonly byJob = new Map<string, RecordedChunk[]>();
  private size = 0;
  private full = false;

  constructor(
    readonly boundBytes: number,
    /** Called with true when the buffer fills (pause reading), false once below half (resume). */
    private readonly onPressure: (paused: boolean) => void,
  ) {}

  get bytes(): number {
    return this.size;
  }
  get paused(): boolean {
    return this.full;
  }

  add(jobId: string, chunk: RecordedChunk): void {
    let chunks = this.byJob.get(jobId);
    if (!chunks) this.byJob.set(jobId, (chunks = []));
    chunks.push(chunk);
    this.size += chunk.data.length;
    if (!this.full && this.size >= this.boundBytes) {
      this.full = true;
      this.onPressure(true);
    }
  }

  /** Drops the job's chunks with `seq ≤ upTo` (acks are cumulative). */
  ack(jobId: string, upTo: number): void {
    const chunks = this.byJob.get(jobId);
    if (!chunks) return;
    let n = 0;
    while (n < chunks.length && chunks[n]!.seq <= upTo) this.size -= chunks[n++]!.data.length;
    if (n === 0) return;
    if (n === chunks.length) this.byJob.delete(jobId);
    else chunks.splice(0, n);
    this.relieve();
  }

  /** The job's buffered chunks with `seq ≥ from`, in order: what to resend after a reconnect. */
  from(jobId: string, from: number): readonly RecordedChunk[] {
    return (this.byJob.get(jobId) ?? []).filter((c) => c.seq >= from);
  }

  /** Forget everything of a job. Only when the server no longer wants it (see LOUD above). */
  dropJob(jobId: string): void {
    const chunks = this.byJob.get(jobId);
    if (!chunks) return;
    for (const c of chunks) this.size -= c.data.length;
    this.byJob.delete(jobId);
    this.relieve();
  }

  private relieve(): void {
    if (this.full && this.size < this.boundBytes / 2) {
      this.full = false;
      this.onPressure(false);
    }
  }
}
