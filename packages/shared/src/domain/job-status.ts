/** Every status a job can be in; the database column, the API and the stream all use these words. */
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The statuses a job ends in: once written, a job's status never changes again. */
/**
 * `skipped`: a run's child that never ran because of its run's rules (the run's error budget was
 * spent, a canary failed, or its agent was offline under `offline: "skip"`); single jobs never are.
 */
export const TERMINAL_STATUSES = ['succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
export const isTerminal = (s: JobStatus): s is TerminalStatus => (TERMINAL_STATUSES as readonly string[]).includes(s);
