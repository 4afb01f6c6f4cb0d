// Per-target concurrency (agents' and hosts' `max_concurrent_jobs`). The gate itself is the
// `start` transition's statement (lifecycle/sql/start-job.ts); here: what it is keyed on, the
// place in line, and waking waiters when a slot frees.
export * from './gate-target.ts';
export * from './limited-targets.ts';
export * from './line.ts';
export * from './look-at-gate.ts';
export * from './look-again.ts';
export * from './wake-waiters.ts';
