import { AppError } from '../errors/app-error.ts';

/**
 * A group commit's answer when the store does not: 503 `unavailable` with `Retry-After`
 * (details.retryAfterSeconds, which the API's error handler also sends as the header).
 *
 * - `deadline`: the caller's batch went, and did not settle within its deadline. Only for reads
 *   (GroupCommit `whenOverdue: 'reject'`): the statement may still be running.
 * - `refused`: too many earlier batches are past their deadline and still open; this item was
 *   NEVER SENT, so the caller may retry it without any risk of doing the work twice.
 *
 * An AppError (layer 1, as batch/ is), so every HTTP path answers it the same way with no mapping
 * of its own: REST through app.onError, stream upgrades through rejectUpgrade, and a stream's
 * access re-check counts it as an outage, never as a revoked credential (stream-access.ts).
 */
export class BatchOverdue extends AppError<'unavailable'> {
  constructor(
    readonly reason: 'deadline' | 'refused',
    message: string,
    retryAfterSeconds: number,
  ) {
    super(503, 'unavailable', message, { retryAfterSeconds });
    this.name = 'BatchOverdue';
  }

  static deadline(label: string, deadlineMs: number): BatchOverdue {
    return new BatchOverdue('deadline', `${label} did not finish within ${deadlineMs} ms (its store is slow or unreachable); retry shortly`, retryAfterOf(deadlineMs));
  }

  static refused(label: string, overdue: number, deadlineMs: number): BatchOverdue {
    return new BatchOverdue(
      'refused',
      `${label} was not tried: ${overdue} earlier ones are still unanswered past their deadline (its store is slow or unreachable); nothing was done, retry shortly`,
      retryAfterOf(deadlineMs),
    );
  }
}

/** Whole seconds, at least 1: about when a stalled statement has been given up or has settled. */
const retryAfterOf = (deadlineMs: number): number => (Number.isFinite(deadlineMs) ? Math.max(1, Math.ceil(deadlineMs / 1000)) : 1);
