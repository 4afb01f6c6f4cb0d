import type { z } from 'zod';
import { timingProblems, type TimingSettings } from '../domain/timings.ts';

/**
 * For `.superRefine` on a process's configuration schema: refuses intervals whose relations
 * (domain/timings.ts) would break, as an issue on the variable to change, so the process stops
 * with one line naming it (`VMO_MAINTENANCE_MS: must be less than VMO_AGENT_GRACE_MS …`).
 */
export function checkTimingRelations(config: TimingSettings, ctx: z.RefinementCtx): void {
  for (const problem of timingProblems(config)) ctx.addIssue({ code: 'custom', path: [problem.variable], message: problem.message });
}
