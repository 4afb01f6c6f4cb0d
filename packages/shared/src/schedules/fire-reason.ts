/**
 * Why a fire was skipped or failed: a refusal's own code and words (`target_forbidden`,
 * `owner_cannot_run`, …) or the scheduler's: `overlap`, `missed`, `caught_up` (the late fire of
 * `catchUp: latest`), `fire_abandoned`. These describe a fire, never a job: no job carries them.
 */
export interface FireReason {
  code: string;
  message: string;
}

export const fireReason = (code: string, message: string): FireReason => ({ code, message });
