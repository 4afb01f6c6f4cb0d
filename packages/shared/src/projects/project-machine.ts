import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { JudgedJobTarget } from '../access/may-run.ts';
import type { ProjectTargetKind } from '../domain/make-target.ts';
import type { JobTarget } from '../domain/job-target.ts';
import { AppError } from '../errors/app-error.ts';
import { resolveHost } from '../hosts/resolve-host.ts';
import { resolveAgent } from '../jobs/submit-job.ts';

/** The machine a project lives on, by id: what the row stores. */
export interface ProjectMachine {
  kind: ProjectTargetKind;
  agentId: string | null;
  hostId: string | null;
}

/**
 * The machine a project's `target` names, once assertMayRunJob judged it (a non-admin's ssh
 * target: the host it judged; a bare host name is never resolved twice). Nobody is the 422 a job
 * for that target gets, in the same words (jobs/submit-job.ts).
 */
export async function resolveProjectMachine(cp: ControlPlane, target: JobTarget, judged: JudgedJobTarget): Promise<ProjectMachine> {
  if (target.type === 'local') return { kind: 'local', agentId: null, hostId: null };
  if (target.type === 'agent') {
    const agent = await resolveAgent(cp, target.agent);
    if (!agent) throw new AppError(422, 'unknown_agent', `no agent with id or name ${JSON.stringify(target.agent)}; see GET /v1/agents`);
    return { kind: 'agent', agentId: agent.id, hostId: null };
  }
  const host = judged.hostId !== undefined ? { id: judged.hostId } : await resolveHost(cp.database.db, target.host);
  if (!host) throw new AppError(422, 'unknown_host', `no host with id, name or name@environment ${JSON.stringify(target.host)}; see GET /v1/hosts`);
  return { kind: 'ssh', agentId: null, hostId: host.id };
}
