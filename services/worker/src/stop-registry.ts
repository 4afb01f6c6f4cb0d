import type { ControlMessage } from '@vmo/shared/bus';
import type { StopRequest } from './executors/executor.ts';

/**
 * The jobs this worker is running, each with the AbortController that stops it. Cancels and
 * timeouts arrive on the control channel (BUS.md §6, from any API node or worker) and land here
 * through `onControl`.
 */
export class StopRegistry {
  private readonly running = new Map<string, AbortController>();

  /** A control message from the bus. */
  onControl(msg: ControlMessage): void {
    if (msg.type === 'cancel') this.stop(msg.jobId, { reason: 'canceled', graceMs: msg.graceMs });
  }

  register(jobId: string): AbortController {
    const controller = new AbortController();
    this.running.set(jobId, controller);
    return controller;
  }

  unregister(jobId: string): void {
    this.running.delete(jobId);
  }

  /** The recorded reason in Postgres decides the final status; this only delivers the signal. */
  stop(jobId: string, request: StopRequest): void {
    const c = this.running.get(jobId);
    if (c && !c.signal.aborted) c.abort(request);
  }

  stopAll(request: StopRequest): void {
    for (const jobId of this.running.keys()) this.stop(jobId, request);
  }

  /** The ids of the jobs running here now. */
  ids(): string[] {
    return [...this.running.keys()];
  }

  get size(): number {
    return this.running.size;
  }
}
