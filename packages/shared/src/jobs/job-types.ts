export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled', 'timed_out', 'lost'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES = ['succeeded', 'failed', 'canceled', 'timed_out', 'lost'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
export const isTerminal = (s: JobStatus): s is TerminalStatus => (TERMINAL_STATUSES as readonly string[]).includes(s);

export type JobTarget = { type: 'local' } | { type: 'agent'; agent: string } | { type: 'ssh'; host: string };

export type OutputStream = 'stdout' | 'stderr';
export const STREAM_CODE: Record<OutputStream, 1 | 2> = { stdout: 1, stderr: 2 };
export const STREAM_NAME: Record<number, OutputStream> = { 1: 'stdout', 2: 'stderr' };
