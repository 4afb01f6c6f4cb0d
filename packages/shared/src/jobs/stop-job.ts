import { eq } from 'drizzle-orm';
import { AppError, notFound } from '../errors/app-error.ts';
import { jobs } from '../db/schema/jobs.ts';
import type { AgentChannelMessage, ControlMessage } from '../protocol/channel-messages.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { isTerminal } from '../domain/job-status.ts';
import { jobView, type JobView } from './job-view.ts';
import { publishJobEnd } from './mark-job-terminal.ts';
import { rowToJob } from './row-to-job.ts';

export const DEFAULT_CANCEL_GRACE_MS = 10_000;

/**
 * Cancel a job (POST /v1/jobs/{id}/cancel), or time it out (reason `timed_out`).
 * Queued: ended at once without running. Running: the reason is recorded, then whoever holds
 * the process (a worker for local jobs, the gateway for agent jobs) is told to stop it; the job
 * ends when the process does, with the recorded reason as its status.
 */
export async function stopJob(cp: ControlPlane, jobId: string, reason: 'canceled' | 'timed_out', graceMs = DEFAULT_CANCEL_GRACE_MS): Promise<JobView> {
  const { sql, db } = cp.database;
  const [job] = await db.select().from(jobs).where(eq(jobs.id, jobId)).limit(1);
  if (!job) throw notFound('job', jobId);
  if (isTerminal(job.status)) throw new AppError(409, 'job_ended', `job ${jobId} has already ended (${job.status})`);

  if (job.status === 'queued') {
    const ended = await markQueuedAsStopped(cp, jobId, reason);
    if (ended) {
      await cp.queue.remove(jobId).catch(() => {}); // best effort: the worker skips it anyway
      return jobView(ended);
    }
  }
  const [row] = await sql`
    update jobs set
      cancel_reason = coalesce(cancel_reason, ${reason}),
      cancel_grace_ms = ${graceMs},
      cancel_requested_at = coalesce(cancel_requested_at, clock_timestamp())
    where id = ${jobId} and status = 'running'
    returning *`;
  if (!row) {
    const [now] = await db.select().from(jobs).where(eq(jobs.id, jobId)).limit(1);
    if (now && isTerminal(now.status)) throw new AppError(409, 'job_ended', `job ${jobId} has already ended (${now.status})`);
    return jobView(now!);
  }
  const running = rowToJob(row);
  await sendStop(cp, running.id, running.agentId, graceMs);
  return jobView(running);
}

/** Tell the process holder to stop. Pub/sub may drop it: holders also re-read `cancel_reason` on reconnect/poll. */
export async function sendStop(cp: ControlPlane, jobId: string, agentId: string | null, graceMs: number): Promise<void> {
  if (agentId) {
    const msg: AgentChannelMessage = { t: 'cancel', jobId, graceMs };
    await cp.redis.publish(cp.keys.agentChannel(agentId), JSON.stringify(msg)).catch(() => {});
  }
  const msg: ControlMessage = { t: 'cancel', jobId, graceMs };
  await cp.redis.publish(cp.keys.controlChannel, JSON.stringify(msg)).catch(() => {});
}

/**
 * One statement, conditional on `queued`: it and the worker's `queued → running` cannot both win,
 * so a job canceled while queued never starts.
 */
async function markQueuedAsStopped(cp: ControlPlane, jobId: string, reason: 'canceled' | 'timed_out') {
  const [row] = await cp.database.sql`
    update jobs set status = ${reason}, cancel_reason = ${reason}, cancel_requested_at = clock_timestamp(), finished_at = clock_timestamp()
    where id = ${jobId} and status = 'queued' returning *`;
  if (!row) return undefined;
  const job = rowToJob(row);
  await publishJobEnd(cp, job);
  return job;
}
