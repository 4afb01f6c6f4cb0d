import WebSocket from 'ws';
import { SubscriberCloseCode } from '@vmo/shared/protocol';

export interface FollowResult {
  messages: any[];
  stdout: Buffer;
  stderr: Buffer;
  seqs: number[];
  end: { status: string; exitCode: number | null; signal: string | null } | undefined;
  closeCode: number;
}

/** Subscribe to a job's WebSocket stream and collect everything until the server closes it. */
export function followJob(baseUrl: string, token: string, jobId: string, opts: { after?: number; onMessage?: (msg: any, ws: WebSocket) => void } = {}): Promise<FollowResult> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/v1/jobs/${jobId}/stream${opts.after !== undefined ? `?after=${opts.after}` : ''}`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  const result: FollowResult = { messages: [], stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), seqs: [], end: undefined, closeCode: 0 };
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  return new Promise((resolve, reject) => {
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString());
      result.messages.push(msg);
      if (msg.type === 'output') {
        result.seqs.push(msg.seq);
        (msg.stream === 'stdout' ? out : err).push(Buffer.from(msg.data, 'base64'));
      } else if (msg.type === 'end') {
        result.end = { status: msg.status, exitCode: msg.exitCode, signal: msg.signal };
      }
      opts.onMessage?.(msg, ws);
    });
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`stream upgrade refused: HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
    ws.on('close', (code) => {
      result.closeCode = code;
      result.stdout = Buffer.concat(out);
      result.stderr = Buffer.concat(err);
      resolve(result);
    });
  });
}

/** Close codes after which a client resumes with `?after=<last seq>` (README, the WebSocket stream). */
const RESUMABLE = new Set<number>([SubscriberCloseCode.restart, SubscriberCloseCode.tooSlow]);

/**
 * Follow a job to its end as a well-behaved client does: when the server closes the stream with
 * 1012 (restarting) or 4008 (too slow), reconnect with `?after=` the last seq received, and while
 * it refuses the upgrade with 503 (a store is down), try again every 250 ms for up to
 * `retryForMs`. The result merges every connection's messages; `interruptions` lists the close
 * codes resumed from.
 */
export async function followJobToEnd(
  baseUrl: string,
  token: string,
  jobId: string,
  opts: { after?: number; onMessage?: (msg: any, ws: WebSocket) => void; maxResumes?: number; retryForMs?: number } = {},
): Promise<FollowResult & { interruptions: number[] }> {
  const merged: FollowResult & { interruptions: number[] } = { messages: [], stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), seqs: [], end: undefined, closeCode: 0, interruptions: [] };
  let after = opts.after;
  for (let i = 0; ; i++) {
    const part = await followUnlessUnavailable(baseUrl, token, jobId, { ...(after === undefined ? {} : { after }), ...(opts.onMessage ? { onMessage: opts.onMessage } : {}) }, opts.retryForMs ?? 120_000);
    merged.messages.push(...part.messages);
    merged.stdout = Buffer.concat([merged.stdout, part.stdout]);
    merged.stderr = Buffer.concat([merged.stderr, part.stderr]);
    merged.seqs.push(...part.seqs);
    merged.end = part.end;
    merged.closeCode = part.closeCode;
    if (part.end || !RESUMABLE.has(part.closeCode) || i >= (opts.maxResumes ?? 20)) return merged;
    merged.interruptions.push(part.closeCode);
    after = merged.seqs.at(-1) ?? after;
  }
}

async function followUnlessUnavailable(baseUrl: string, token: string, jobId: string, opts: Parameters<typeof followJob>[3], retryForMs: number): Promise<FollowResult> {
  const deadline = Date.now() + retryForMs;
  for (;;) {
    try {
      return await followJob(baseUrl, token, jobId, opts);
    } catch (err) {
      if ((err as { status?: number }).status !== 503 || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250)); // a client's retry delay, not a wait for an event
    }
  }
}
