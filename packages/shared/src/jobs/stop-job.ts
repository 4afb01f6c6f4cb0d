import { AppError, notFound } from '../errors/app-error.ts';
import { publishAgentCommand, publishControl } from '../bus/publish.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { isTerminal } from '../domain/job-status.ts';
import { DEFAULT_CANCEL_GRACE_MS } from '../domain/timings.ts';
import { jobView, type JobView } from './job-view.ts';
import { transition } from './lifecycle/transition.ts';
import { getJob } from './queries/get-job.ts';
import { recordStopRequest } from './record-stop-request.ts';

/**
 * Cancel a job (POST /v1/jobs/{id}/cancel), or time it out (reason `timed_out`).
 * Queued: ended at once without running (`stop_queued`). Running: the reason is recorded, then
 * whoever holds the process (a worker for local jobs, the gateway for agent jobs) is told to stop
 * it; the job ends when the process does, with the recorded reason as its status.
 */
export async function stopJob(cp: ControlPlane, jobId: string, reason: 'canceled' | 'timed_out', graceMs = DEFAULT_CANCEL_GRACE_MS): Promise<JobView> {
  const sql = cp.database.sql;
  const job = await getJob(sql, jobId);
  if (!job) throw notFound('job', jobId);
  if (isTerminal(job.status)) throw new AppError(409, 'job_ended', `job ${jobId} has already ended (${job.status})`);

  if (job.status === 'queued') {
    const ended = await transition(cp, jobId, { kind: 'stop_queued', reason });
    if (ended) {
      await cp.queue.remove(jobId).catch(() => {}); // best effort: the worker skips it anyway
      return jobView(ended);
    }
  }
  const running = await recordStopRequest(sql, jobId, reason, graceMs);
  if (!running) {
    const now = await getJob(sql, jobId);
    if (now && isTerminal(now.status)) throw new AppError(409, 'job_ended', `job ${jobId} has already ended (${now.status})`);
    return jobView(now!);
  }
  await sendStop(cp, running.id, running.agentId, graceMs);
  return jobView(running);
}

/** Tell the process holder to stop. Pub/sub may drop it: holders also re-read `cancel_reason` on reconnect/poll. */
export async function sendStop(cp: ControlPlane, jobId: string, agentId: string | null, graceMs: number): Promise<void> {
  if (agentId) await publishAgentCommand(cp, agentId, { type: 'cancel', jobId, graceMs });
  await publishControl(cp, { type: 'cancel', jobId, graceMs });
}
