import { userInfo } from 'node:os';

const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment a job's command sees: a minimal, predictable base (not the worker's or the
 * agent's own environment, which may hold credentials) with the job's `env` over it.
 */
export function jobEnv(jobId: string, env: Record<string, string>): Record<string, string> {
  let user = 'nobody';
  let home = '/';
  try {
    const info = userInfo();
    user = info.username;
    home = info.homedir;
  } catch {
    // no passwd entry (containers): keep the defaults
  }
  return {
    PATH: BASE_PATH,
    HOME: home,
    USER: user,
    LOGNAME: user,
    SHELL: '/bin/sh',
    LANG: 'C.UTF-8',
    VMO_JOB_ID: jobId,
    ...env,
  };
}
