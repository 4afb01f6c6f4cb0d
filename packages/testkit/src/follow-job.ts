import type WebSocket from 'ws';
import { VmoClient, VmoStreamClosedError, type StreamMessage } from '@vmo/client';

export interface FollowResult {
  messages: any[];
  stdout: Buffer;
  stderr: Buffer;
  seqs: number[];
  end: { status: string; exitCode: number | null; signal: string | null } | undefined;
  closeCode: number;
}

/** Collects a stream's frames as tests look at them: every message, the seqs, and each stream's bytes. */
function collector() {
  const result: FollowResult = { messages: [], stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), seqs: [], end: undefined, closeCode: 0 };
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  return {
    result,
    add(msg: StreamMessage) {
      result.messages.push(msg);
      if (msg.type === 'output') {
        result.seqs.push(msg.seq);
        (msg.stream === 'stdout' ? out : err).push(Buffer.from(msg.data, 'base64'));
      } else if (msg.type === 'end') {
        result.end = { status: msg.status, exitCode: msg.exitCode, signal: msg.signal };
      }
    },
    done(closeCode: number) {
      result.closeCode = closeCode;
      result.stdout = Buffer.concat(out);
      result.stderr = Buffer.concat(err);
      return result;
    },
  };
}

/**
 * One connection to a job's WebSocket stream (the client's streamOnce), collecting everything
 * until the server closes it; `onMessage` gets the `ws` socket, to close it or send frames. Rejects
 * with the client's VmoApiError (its `status`) when the upgrade is refused.
 */
export async function followJob(baseUrl: string, token: string, jobId: string, opts: { after?: number; onMessage?: (msg: any, ws: WebSocket) => void } = {}): Promise<FollowResult> {
  const c = collector();
  const close = await new VmoClient({ baseUrl, token }).streamOnce(jobId, {
    after: opts.after,
    onMessage: (msg, socket) => {
      c.add(msg);
      opts.onMessage?.(msg, socket as WebSocket);
    },
  });
  return c.done(close.code);
}

/**
 * Follow a job to its end as a well-behaved client does: the client's follow(), which resumes
 * with `?after=` after a 1012 or 4008 close and retries a 503 (or an unreachable server) for up to
 * `retryForMs`. The result merges every connection's messages; `interruptions` lists the close
 * codes resumed from. A close that is not a resume (or past `maxResumes`) ends it with that close
 * code, as a result rather than an error, for the tests to look at.
 */
export async function followJobToEnd(
  baseUrl: string,
  token: string,
  jobId: string,
  opts: { after?: number; onMessage?: (msg: any, ws: WebSocket) => void; maxResumes?: number; retryForMs?: number } = {},
): Promise<FollowResult & { interruptions: number[] }> {
  const c = collector();
  const interruptions: number[] = [];
  let closeCode = 0;
  try {
    await new VmoClient({ baseUrl, token }).follow(jobId, {
      after: opts.after,
      maxResumes: opts.maxResumes ?? 20,
      retryForMs: opts.retryForMs ?? 120_000,
      onMessage: (msg, socket) => {
        c.add(msg);
        opts.onMessage?.(msg, socket as WebSocket);
      },
      onReconnect: (r) => r.closeCode !== undefined && interruptions.push(r.closeCode),
      onClose: (close) => (closeCode = close.code),
    });
  } catch (err) {
    if (!(err instanceof VmoStreamClosedError)) throw err;
  }
  return { ...c.done(closeCode), interruptions };
}
