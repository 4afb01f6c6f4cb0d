import { z } from 'zod';

/** Far above any machine's sensible parallelism, and inside the column's `integer`. */
export const MAX_CONCURRENT_JOBS_LIMIT = 100_000;

const MESSAGE = `must be a whole number from 1 to ${MAX_CONCURRENT_JOBS_LIMIT}, or null for no limit`;

/**
 * `maxConcurrentJobs` of an agent or an SSH host: at most this many of its jobs run at once, the
 * rest wait `queued`, first in first out (jobs/target-gate). `null` is no limit, the default.
 * Zero is refused rather than read as "paused": a target that never runs anything would hold its
 * jobs until their clients gave up, with nothing saying why.
 */
export const MaxConcurrentJobsInput = z
  .number({ error: MESSAGE })
  .int(MESSAGE)
  .min(1, MESSAGE)
  .max(MAX_CONCURRENT_JOBS_LIMIT, MESSAGE)
  .nullable()
  .meta({ description: 'At most this many of its jobs run at once; the rest wait `queued`, first in first out. `null`: no limit.', example: 4 });
