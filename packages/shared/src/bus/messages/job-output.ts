import { z } from 'zod';

/**
 * One stored chunk: `stream` 1 stdout, 2 stderr; `data` the bytes exactly as stored; `attempt` the
 * job's attempt it belongs to (issue 14: seqs start at 0 again in each attempt). Absent from a
 * publisher that predates retries: a consumer then takes the chunk from Postgres rather than guess
 * its attempt.
 */
export const OutputChunk = z.object({ attempt: z.number().int().optional(), seq: z.number().int(), stream: z.union([z.literal(1), z.literal(2)]), data: z.instanceof(Buffer) });
export type OutputChunk = z.infer<typeof OutputChunk>;

/**
 * BUS.md §4, on `job:{id}:out`: a batch of chunks the log sink has just made durable, in seq
 * order. A consumer that sees a gap fills it from Postgres (§7).
 */
export const JobOutput = z.object({ v: z.literal(2), type: z.literal('output'), chunks: z.array(OutputChunk) });
export type JobOutput = z.infer<typeof JobOutput>;

/** The version of §4's binary form (the other families are at BUS_VERSION 1). */
export const JOB_OUTPUT_VERSION = 2;

/** §4 on the wire: a JSON head (one line) with each chunk's size, then the chunks' bytes, back to back. */
const Head = z.object({
  v: z.literal(JOB_OUTPUT_VERSION),
  type: z.literal('output'),
  chunks: z.array(z.object({ attempt: z.number().int().optional(), seq: z.number().int(), stream: z.union([z.literal(1), z.literal(2)]), bytes: z.number().int().nonnegative() })),
});

/** §4 before issue 16 (v1: JSON, data in base64), still read during a rolling upgrade. */
const V1 = z.object({
  v: z.literal(1),
  type: z.literal('output'),
  chunks: z.array(z.object({ attempt: z.number().int().optional(), seq: z.number().int(), stream: z.union([z.literal(1), z.literal(2)]), data: z.string() })),
});

const NEWLINE = 0x0a;

/**
 * §4's message for `chunks`. Binary on purpose (issue 16): as JSON with base64 data, every output
 * byte was base64-encoded, JSON-escaped, UTF-8-measured and written by the sink, then turned into
 * a string and JSON-parsed by every subscribing node, a quarter of the API's CPU in the output
 * benchmark, and published whether or not anyone was watching. The head cannot hold a newline
 * (JSON.stringify escapes them), so the first one ends it.
 */
export function encodeJobOutput(chunks: readonly OutputChunk[]): Buffer {
  const head = { v: JOB_OUTPUT_VERSION, type: 'output', chunks: chunks.map((c) => ({ ...(c.attempt !== undefined && { attempt: c.attempt }), seq: c.seq, stream: c.stream, bytes: c.data.length })) };
  return Buffer.concat([Buffer.from(JSON.stringify(head) + '\n'), ...chunks.map((c) => c.data)]);
}

/**
 * A raw §4 message as a JobOutput candidate (validated by the caller against JobOutput), or
 * undefined when it is not one. The chunks' data are views into `raw`, not copies. A v1 message
 * (JSON, base64) is read too.
 */
export function unpackJobOutput(raw: Buffer): unknown {
  const nl = raw.indexOf(NEWLINE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8', 0, nl === -1 ? raw.length : nl));
  } catch {
    return undefined;
  }
  if (nl === -1) {
    const v1 = V1.safeParse(parsed);
    if (!v1.success) return undefined;
    return { v: JOB_OUTPUT_VERSION, type: 'output', chunks: v1.data.chunks.map((c) => ({ ...c, data: Buffer.from(c.data, 'base64') })) };
  }
  const head = Head.safeParse(parsed);
  if (!head.success) return undefined;
  let at = nl + 1;
  const chunks = [];
  for (const { bytes, ...c } of head.data.chunks) {
    if (at + bytes > raw.length) return undefined;
    chunks.push({ ...c, data: raw.subarray(at, at + bytes) });
    at += bytes;
  }
  return at === raw.length ? { v: JOB_OUTPUT_VERSION, type: 'output', chunks } : undefined;
}
