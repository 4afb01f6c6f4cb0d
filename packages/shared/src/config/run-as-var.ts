import { z } from 'zod';
import { resolveRunAs, RunAsError, type RunAsUser } from '../process/run-as.ts';

/**
 * `VMO_RUN_AS`: a user name or uid that job commands run as. Resolved at start, with a check that
 * this process can switch to it: a service that cannot stops at once with one line saying why,
 * rather than failing every job later. Empty or unset: commands run as the service's own user.
 */
export const runAsVar = () =>
  z
    .string()
    .optional()
    .transform((spec, ctx): RunAsUser | undefined => {
      if (!spec) return undefined;
      try {
        return resolveRunAs(spec);
      } catch (err) {
        if (!(err instanceof RunAsError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
        return z.NEVER;
      }
    });
