import { z } from 'zod';
import type { JobStatus } from '../domain/job-status.ts';
import type { OutputStream } from '../domain/output-stream.ts';

/** Server → WebSocket subscriber of `/v1/jobs/{id}/stream`. */
export type SubscriberMessage =
  | { type: 'output'; seq: number; stream: OutputStream; data: string /* base64 */ }
  /**
   * `attempt` on the first frame only: the attempt the stream starts at (issue 14). `outputExpired`
   * (first frame only, when true): retention deleted the job's output; no output follows, only `end`.
   */
  | { type: 'status'; status: JobStatus; attempt?: number; outputExpired?: true }
  /**
   * Issue 14: the attempt served so far is over and was retried; what follows is attempt
   * `attempt`'s output, its seqs from 0 again. `retryAt`: when it is due, while the job waits for it.
   */
  | { type: 'attempt'; attempt: number; retryAt: string | null }
  | { type: 'end'; status: JobStatus; exitCode: number | null; signal: string | null };

/** Subscriber → server: only a keep-alive is accepted; anything else closes with 1008. */
export const SubscriberToServer = z.object({ type: z.literal('ping') });

export const SubscriberCloseCode = {
  done: 1000,
  restart: 1012,
  policy: 1008,
  /** The subscriber read too slowly; reconnect with `?after=<last seq>`. */
  tooSlow: 4008,
  /** The credential the stream was opened with is no longer valid (revoked, expired, its user disabled): do not reconnect with it. */
  unauthorized: 4401,
  /** No such job or run, or the caller may no longer read it (the same answer: no existence oracle). */
  notFound: 4404,
} as const;
