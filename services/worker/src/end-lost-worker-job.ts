import { hostname } from 'node:os';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { transition } from '@vmo/shared/jobs';
import { killOrphanedJobProcesses } from '@vmo/shared/process';

/**
 * End a job whose worker died while running it (local or ssh): `lost`, fenced by attempt. If that
 * worker ran on this machine, the job's command outlived it in its own process group: kill it
 * first, so a lost job leaves nothing running. (Worker ids start with the worker's hostname.)
 */
export async function endLostWorkerJob(cp: ControlPlane, job: { id: string; attempt: number; workerId: string | null }): Promise<void> {
  if (job.workerId?.startsWith(`${hostname()}:`)) {
    const killed = killOrphanedJobProcesses(job.id);
    if (killed > 0) cp.log.warn({ jobId: job.id, workerId: job.workerId, killed }, 'killed the orphaned processes of a lost job');
  }
  const message = `worker ${job.workerId} stopped while running the job`;
  await transition(cp, job.id, { kind: 'end', from: 'running', attempt: job.attempt, status: 'lost', error: { code: 'worker_lost', message } });
}
