// The bounds of GET /v1/runs/{id}/summary, in a module of their own (no imports) so the contract
// (api/runs.ts, loaded by clients and browsers) documents the numbers the server obeys.

/** How much of each output group's output the summary shows. */
export const SUMMARY_SAMPLE_BYTES = 1024;
/** Targets (and job ids) listed per output group; `count` has them all, GET /v1/runs/{id}/jobs lists them. */
export const SUMMARY_TARGETS_LISTED = 100;
/** Result groups (status, exit code) listed, largest first; the rest are counted in `otherGroups`. */
export const SUMMARY_RESULT_GROUPS = 100;
/** Output groups listed per result group, largest first; the rest are counted in `otherOutputs`. */
export const SUMMARY_OUTPUTS_PER_GROUP = 100;
/**
 * Output groups listed in the whole answer: with many result groups each lists fewer (the same
 * number for all, at least SUMMARY_OUTPUTS_LISTED / SUMMARY_RESULT_GROUPS = 10), so a run of
 * 10,000 children with as many exit codes and outputs is still an answer of a few hundred KiB.
 */
export const SUMMARY_OUTPUTS_LISTED = 1000;
/** What one summary may take, hashing included; past it, 503 `summary_timeout`. */
export const SUMMARY_TIME_LIMIT_MS = 15_000;
