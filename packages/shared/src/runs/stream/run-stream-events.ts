import type { JobStatus } from '../../domain/job-status.ts';
import type { RunStatus, TerminalRunStatus } from '../../domain/run-status.ts';

interface ErrorView {
  code: string;
  message: string;
}

/**
 * Server → subscriber of `GET /v1/runs/{id}/stream`, one JSON text frame each. The contract
 * (api/run-stream.ts) has the same shapes as zod schemas and checks at compile time that they
 * agree. Every frame carries `cursor`: resuming with `?after=<cursor>` sends exactly the frames
 * that followed it.
 */
export type RunStreamEvent =
  | { type: 'output'; jobId: string; index: number; target: string; attempt: number; seq: number; stream: 'stdout' | 'stderr'; data: string; cursor: string }
  | { type: 'status'; jobId: string; index: number; target: string; status: JobStatus; exitCode: number | null; signal: string | null; error: ErrorView | null; cursor: string }
  | { type: 'progress'; status: RunStatus; counts: Record<JobStatus, number>; done: number; total: number; error: ErrorView | null; cursor: string }
  | { type: 'end'; status: TerminalRunStatus; error: ErrorView | null; cursor: string };
