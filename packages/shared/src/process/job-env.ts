import { userInfo } from 'node:os';

const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Who the job runs as, for HOME, USER and LOGNAME. */
export interface JobIdentity {
  name: string;
  home: string;
}

/**
 * The environment a job's command sees: a minimal, predictable base (not the worker's or the
 * agent's own environment, which may hold credentials) with the job's `env` over it.
 *
 * LOUD: `VMO_JOB_ID` is set last. Job input refuses it, but a job stored before that rule must
 * not be able to set it either: the orphan sweep (killOrphanedJobProcesses) finds a job's
 * processes by it, and a forged one would let a job hide from it or be killed for another.
 */
export function jobEnv(jobId: string, env: Record<string, string>, identity: JobIdentity = serviceUser()): Record<string, string> {
  return {
    PATH: BASE_PATH,
    HOME: identity.home,
    USER: identity.name,
    LOGNAME: identity.name,
    SHELL: '/bin/sh',
    LANG: 'C.UTF-8',
    ...env,
    VMO_JOB_ID: jobId,
  };
}

function serviceUser(): JobIdentity {
  try {
    const info = userInfo();
    // The service's own HOME when it has one (systemd sets it from passwd; a container or a test
    // may give another), else passwd's: a job, and a shell's login shell, start where the service lives.
    return { name: info.username, home: process.env['HOME'] || info.homedir };
  } catch {
    return { name: 'nobody', home: '/' }; // no passwd entry (containers)
  }
}
