import type { LogSink, OutputRow } from '@vmo/shared/logsink';
import { MaskedOutput, OutputRecorder, type OutputLimits } from '@vmo/shared/output';

export interface Pausable {
  pause(): void;
  resume(): void;
}

export interface OutputPumpOptions {
  /** Backlog (bytes not yet durable) past which the source is paused. */
  highWater?: number;
  /** The job's secret values: every occurrence is replaced with `***` before the bytes are numbered. */
  secrets?: readonly string[];
}

/**
 * Masks a process's output (MaskedOutput, when the job has secrets), numbers it (OutputRecorder)
 * and feeds it to the log sink with backpressure:
 * when more than `highWater` bytes are waiting to be durable, the process's pipes are paused (the
 * command blocks on write) until the backlog falls below half. Memory per job stays bounded and
 * nothing is dropped while Postgres is slow.
 */
export class OutputPump {
  private readonly recorder: OutputRecorder;
  private batch: OutputRow[] = [];
  private scheduled = false;
  private inflightBytes = 0;
  private paused = false;
  private readonly appends = new Set<Promise<void>>();
  private failure: Error | undefined;
  private source: Pausable | undefined;
  private readonly highWater: number;
  /**
   * LOUD: masking comes before the recorder, so the seqs, the stored bytes and the published
   * bytes are all of the masked output. Absent when the job has no secrets (no cost).
   */
  private readonly masked: MaskedOutput | undefined;

  /**
   * `job`: the job and the attempt this worker started (the `start` row's): every chunk is stored
   * under that attempt, never under what the job row says later (logsink/insert-output-batch.ts).
   */
  constructor(
    private readonly job: { id: string; attempt: number },
    private readonly sink: LogSink,
    limits: OutputLimits,
    { highWater = 4 * 1024 * 1024, secrets = [] }: OutputPumpOptions = {},
  ) {
    this.highWater = highWater;
    // LOUD: count what is emitted (and so will be acknowledged), not what was written: past the
    // cap the recorder keeps only the tail, and bytes it drops never come back to lower the count.
    // Counting them paused the pipes for good once a job passed the cap: the job hung.
    this.recorder = new OutputRecorder(limits, (c) => {
      this.batch.push({ jobId: this.job.id, attempt: this.job.attempt, ...c });
      this.inflightBytes += c.data.length;
    });
    this.masked = secrets.length > 0 ? new MaskedOutput(secrets, (stream, data) => this.recorder.write(stream, data)) : undefined;
  }

  attach(source: Pausable): void {
    this.source = source;
  }

  get truncated(): boolean {
    return this.recorder.truncated;
  }

  write(stream: 1 | 2, data: Buffer): void {
    if (this.masked) this.masked.write(stream, data);
    else this.recorder.write(stream, data);
    if (!this.paused && this.inflightBytes > this.highWater) {
      this.paused = true;
      this.source?.pause();
    }
    // Coalesce the chunks of one event-loop turn into one append.
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.send());
    }
  }

  /** Emit the tail/marker and wait until every chunk is durable. Throws if the sink failed. */
  async finish(): Promise<void> {
    this.masked?.flush(); // what was held back as a possible beginning of a secret
    this.recorder.finish();
    this.send();
    while (this.appends.size > 0) await Promise.all(this.appends);
    if (this.failure) throw this.failure;
  }

  private send(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const rows = this.batch;
    this.batch = [];
    const bytes = rows.reduce((n, r) => n + r.data.length, 0);
    const done: Promise<void> = this.sink
      .append(rows)
      .catch((err: Error) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.appends.delete(done);
        this.inflightBytes -= bytes;
        if (this.paused && this.inflightBytes <= this.highWater / 2) {
          this.paused = false;
          this.source?.resume();
        }
      });
    this.appends.add(done);
  }
}
