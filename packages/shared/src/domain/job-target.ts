/** Where a job runs: on a worker, on a named agent, or over SSH on an inventory host. */
export type JobTarget = { type: 'local' } | { type: 'agent'; agent: string } | { type: 'ssh'; host: string };
