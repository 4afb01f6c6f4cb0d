import WebSocket from 'ws';

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
    ws.on('unexpected-response', (_req, res) => reject(new Error(`stream upgrade refused: HTTP ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('close', (code) => {
      result.closeCode = code;
      result.stdout = Buffer.concat(out);
      result.stderr = Buffer.concat(err);
      resolve(result);
    });
  });
}
