import { z } from 'zod';

/**
 * One stored chunk: `stream` 1 stdout, 2 stderr; `data` base64 (the bytes exactly as stored);
 * `attempt` the job's attempt it belongs to (issue 14: seqs start at 0 again in each attempt).
 * Absent from a publisher that predates retries: a consumer then takes the chunk from Postgres
 * rather than guess its attempt.
 */
export const OutputChunk = z.object({ attempt: z.number().int().optional(), seq: z.number().int(), stream: z.union([z.literal(1), z.literal(2)]), data: z.string() });
export type OutputChunk = z.infer<typeof OutputChunk>;

/**
 * BUS.md §4, on `job:{id}:out`: a batch of chunks the log sink has just made durable, in seq
 * order. A consumer that sees a gap fills it from Postgres (§7).
 */
export const JobOutput = z.object({ v: z.literal(1), type: z.literal('output'), chunks: z.array(OutputChunk) });
export type JobOutput = z.infer<typeof JobOutput>;
