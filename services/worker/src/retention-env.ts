import { z } from 'zod';
import { intVar } from '@vmo/shared/config';
import { DEFAULT_AUDIT_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, DEFAULT_RETENTION_EVERY_MS, MAX_RETAIN_DAYS, type RetentionPolicy } from '@vmo/shared/domain';

const days = (what: string, max: number = MAX_RETAIN_DAYS) =>
  z.coerce
    .number({ message: `must be a whole number of days (${what})` })
    .int(`must be a whole number of days (${what})`)
    .min(0, `must be ≥ 0 (0 keeps ${what} forever)`)
    .max(max, `must be ≤ ${max}`);

/** Retention (issue 14, README "Retention"): the worker's variables. Days of 24 h; 0 keeps forever. */
export const retentionEnv = {
  /** Ended jobs (with their output, attempts, secrets) and ended runs are deleted this many days after they ended. 0: kept forever. */
  VMO_RETENTION_DAYS: days('jobs').default(DEFAULT_RETENTION_DAYS),
  /** Only the output of ended jobs is deleted after this many days; the job stays (`outputExpired`). Unset: VMO_RETENTION_DAYS. 0: as long as the job. */
  VMO_OUTPUT_RETENTION_DAYS: days('output').optional(),
  /** Audit rows are deleted this many days after they were written. 0: kept forever. */
  VMO_AUDIT_RETENTION_DAYS: days('audit rows', 36_500).default(DEFAULT_AUDIT_RETENTION_DAYS),
  /** How often the retention loop of each worker looks for what is due (one worker at a time deletes). */
  VMO_RETENTION_EVERY_MS: intVar(DEFAULT_RETENTION_EVERY_MS, 100, 24 * 3600_000),
};

type RetentionVars = { VMO_RETENTION_DAYS: number; VMO_OUTPUT_RETENTION_DAYS?: number | undefined; VMO_AUDIT_RETENTION_DAYS: number };

/** Output kept longer than its job would be a promise retention cannot keep: refused at start, naming the variable. */
export function checkRetentionRelations(v: RetentionVars, ctx: z.RefinementCtx): void {
  const out = v.VMO_OUTPUT_RETENTION_DAYS;
  if (out !== undefined && out > 0 && v.VMO_RETENTION_DAYS > 0 && out > v.VMO_RETENTION_DAYS) {
    ctx.addIssue({
      code: 'custom',
      path: ['VMO_OUTPUT_RETENTION_DAYS'],
      message: `must be at most VMO_RETENTION_DAYS (${v.VMO_RETENTION_DAYS}): output is deleted with its job`,
    });
  }
}

/** The variables as the retention pass takes them (null: kept forever). */
export function retentionPolicyOf(v: RetentionVars): RetentionPolicy {
  const output = v.VMO_OUTPUT_RETENTION_DAYS ?? v.VMO_RETENTION_DAYS;
  return { jobDays: v.VMO_RETENTION_DAYS || null, outputDays: output || null, auditDays: v.VMO_AUDIT_RETENTION_DAYS || null };
}
