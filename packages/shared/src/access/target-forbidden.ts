import type { PolicyAction } from '../domain/access.ts';
import { AppError } from '../errors/app-error.ts';

/** How many refused targets a 403 names; the count says how many more there were. */
export const FORBIDDEN_TARGETS_NAMED = 5;

/**
 * 403 `target_forbidden`: no policy grants `action` on these targets to the caller. It names them
 * (the caller chose them: a job's target, a run's resolved targets), never anything the caller
 * did not ask about.
 */
export function targetForbidden(action: PolicyAction, names: readonly string[], total = names.length): AppError {
  const shown = names.map((n) => JSON.stringify(n)).join(', ');
  const more = total > names.length ? ` and ${total - names.length} more` : '';
  const what = total === 1 ? 'target' : 'targets';
  return new AppError(403, 'target_forbidden', `targets: you may not ${action} on the ${what} ${shown}${more}: no policy grants you ${action} there; ask an admin (POST /v1/policies)`, {
    action,
    targets: [...names],
    total,
  });
}
