import type { z } from 'zod';
import { badRequest, type AppError } from './app-error.ts';

/** A zod failure as a 400 that names the first offending field, e.g. `timeoutMs: must be ≤ 604800000`. */
export function validationError(error: z.ZodError, where = 'body'): AppError {
  const issue = error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : where;
  const message = issue ? `${path}: ${issueMessage(issue)}` : `${where} is invalid`;
  // A check that knows where in the value it failed (a label selector's parse error) says so in details.position.
  const position = issue?.code === 'custom' ? (issue.params as { position?: unknown } | undefined)?.position : undefined;
  return badRequest('validation_failed', message, typeof position === 'number' ? { field: path, position } : { field: path });
}

/** zod reports a bad record key as "Invalid key in record" and nests the key schema's own message. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_key' && issue.issues[0]) return issue.issues[0].message;
  return issue.message;
}
