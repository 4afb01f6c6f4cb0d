/**
 * Where a chunk stands among all of one child's output: (attempt, seq) folded into one number,
 * `attempt * 2^32 + seq`, ordered as the rows are (job_output's key is (job_id, attempt, seq)).
 *
 * LOUD: a retried child's seqs start at 0 again in each attempt (issue 14). A run stream that
 * counted in seqs alone took attempt 2's seq 0..N for chunks it had already sent (attempt 1's) and
 * skipped them. Every position the stream keeps (holds, where a page stands, what a connection
 * remembers) is one of these, so attempts follow each other in the order they ran.
 *
 * Exact in a double: an attempt is at most a few hundred (retry.max), a seq below 2^32.
 */
export const ATTEMPT_STRIDE = 2 ** 32;

/** After every chunk of a child (the largest exact integer). */
export const PAST_LAST_POSITION = Number.MAX_SAFE_INTEGER;

export const chunkPosition = (attempt: number, seq: number): number => attempt * ATTEMPT_STRIDE + seq;
export const attemptAt = (position: number): number => Math.floor(position / ATTEMPT_STRIDE);
export const seqAt = (position: number): number => position % ATTEMPT_STRIDE;

/**
 * Whether a chunk at `position` may follow what a subscriber has when it expects `expected` next:
 * the very chunk, or the first chunk of a later attempt. An attempt starts only after the previous
 * one is over (the retry transition), and the log sink refuses output of an attempt that is over
 * (logsink/insert-output-batch.ts), so nothing of an earlier attempt is still to come.
 */
export function continues(position: number, expected: number): boolean {
  return position === expected || (seqAt(position) === 0 && attemptAt(position) > attemptAt(expected));
}
