import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { VmoClient } from '@vmo/client';
import { emit, exitAfter, finish, loadArgs } from './emit.ts';
import { preciseNow } from '../stats.ts';

/**
 * N WebSocket subscribers of one job's output, counting bytes until the end.
 *   vmo:  submits `job` itself, opens N subscribers on /v1/jobs/{id}/stream; when every one has
 *         its first message (the job's status) it emits `subscribed` and creates `goFile` (the job
 *         waits for it before writing). A subscriber cut for being slow (4008) or by a restart
 *         (1012) reconnects with ?after=<last seq>, as a real client would.
 *   bare: N clients of the bare broadcast server (binary frames, then a text "end").
 * With `lag`, the output is timestamped-output.mjs's: each 1,024-byte line starts with the time
 * it was written; every message's first whole line gives one lag sample.
 */
interface Args {
  mode: 'vmo' | 'bare';
  n: number;
  deadlineMs: number;
  lag: boolean;
  expectBytes: number;
  apiUrl?: string;
  token?: string;
  job?: Record<string, unknown>;
  goFile?: string;
  url?: string;
  inFlight?: number;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'job-followers');
const LINE = 1024;
const TS = 17;

interface Follower {
  bytes: number;
  lastSeq: number;
  firstByteAt: number;
  lastByteAt: number;
  lags: number[];
  status?: string;
  reconnects: number;
  closeCode?: number;
}

/** Lag of the first whole line in bytes [offset, offset + len) of the stream, read by `at(p, n)`. */
function lineLag(offset: number, len: number, at: (p: number, n: number) => string, now: number): number | undefined {
  const p = (LINE - (offset % LINE)) % LINE;
  if (p + TS > len) return undefined;
  const ts = Number(at(p, TS));
  return Number.isFinite(ts) ? now - ts : undefined;
}

/** Bytes `n` at `p` of the data a base64 string encodes, decoding only around them. */
function base64Slice(data: string, p: number, n: number): string {
  const start = Math.floor(p / 3) * 4;
  const buf = Buffer.from(data.slice(start, start + Math.ceil((n + 3) / 3) * 4), 'base64');
  return buf.toString('latin1', p % 3, (p % 3) + n);
}

/**
 * One subscriber through the client's follow(): replay, live, and a resume with ?after=<last seq>
 * after a 4008 or 1012 close or a dropped connection, immediately (no backoff, as before: the time
 * measured is the server's), at most 20 times (and for 2 s when the server is unreachable). Frames are read as they come: the base64 is never
 * decoded whole (its length gives the bytes; base64Slice reads the timestamps).
 */
function openVmo(client: VmoClient, jobId: string, f: Follower, onFirstMessage: () => void, onDone: () => void): void {
  let first = true;
  void client
    .follow(jobId, {
      maxResumes: 20,
      backoff: { initialMs: 0 },
      retryForMs: 2_000, // an unreachable server: give up soon, as the 20 immediate retries before did
      onMessage: (msg) => {
        const now = preciseNow();
        if (first) {
          first = false;
          onFirstMessage();
        }
        if (msg.type !== 'output') return;
        const len = Buffer.byteLength(msg.data, 'base64');
        if (f.bytes === 0) f.firstByteAt = now;
        if (args.lag) {
          const lag = lineLag(f.bytes, len, (p, n) => base64Slice(msg.data, p, n), now);
          if (lag !== undefined) f.lags.push(lag);
        }
        f.bytes += len;
        f.lastSeq = msg.seq;
        f.lastByteAt = now;
      },
      onReconnect: () => void f.reconnects++,
      onClose: (close) => (f.closeCode = close.code),
    })
    .then(
      (end) => (f.status = end.status),
      () => {}, // counted as incomplete (bytes short of expectBytes) and by its close code
    )
    .finally(onDone);
}

function openBare(f: Follower, onOpen: () => void, onDone: () => void): void {
  const ws = new WebSocket(args.url!);
  ws.on('open', onOpen);
  ws.on('message', (raw, isBinary) => {
    const now = preciseNow();
    if (!isBinary) {
      f.status = raw.toString();
      return;
    }
    const buf = raw as Buffer;
    if (f.bytes === 0) f.firstByteAt = now;
    if (args.lag) {
      const lag = lineLag(f.bytes, buf.length, (p, n) => buf.toString('latin1', p, p + n), now);
      if (lag !== undefined) f.lags.push(lag);
    }
    f.bytes += buf.length;
    f.lastByteAt = now;
  });
  ws.on('error', () => {});
  ws.on('close', (code) => {
    f.closeCode = code;
    onDone();
  });
}

async function main(): Promise<void> {
  const client = args.mode === 'vmo' ? new VmoClient({ baseUrl: args.apiUrl!, token: args.token }) : undefined;
  const followers: Follower[] = Array.from({ length: args.n }, () => ({ bytes: 0, lastSeq: -1, firstByteAt: 0, lastByteAt: 0, lags: [], reconnects: 0 }));
  let subscribed = 0;
  let done = 0;
  let submittedAt = 0;
  let goAt = 0;
  const allDone = new Promise<void>((resolve) => {
    const onDone = () => {
      if (++done === args.n) resolve();
    };
    const onSubscribed = () => {
      if (++subscribed !== args.n) return;
      goAt = preciseNow();
      if (args.goFile) writeFileSync(args.goFile, 'go\n');
      emit('subscribed', { goAt });
    };
    void (async () => {
      let jobId = '';
      if (args.mode === 'vmo') {
        submittedAt = preciseNow();
        jobId = (await client!.jobs.submit(args.job as Parameters<VmoClient['jobs']['submit']>[0])).id;
        emit('submitted', { jobId });
      }
      // Open in waves so the handshakes do not all land in one event-loop turn of the server.
      const inFlight = args.inFlight ?? 100;
      for (let i = 0; i < args.n; i += inFlight) {
        const wave = followers.slice(i, i + inFlight);
        await Promise.all(
          wave.map(
            (f) =>
              new Promise<void>((opened) => {
                const first = () => {
                  opened();
                  onSubscribed();
                };
                if (args.mode === 'vmo') openVmo(client!, jobId, f, first, onDone);
                else openBare(f, first, onDone);
              }),
          ),
        );
      }
    })().catch((err: Error) => {
      emit('error', { message: err.stack ?? err.message });
      process.exit(1);
    });
  });
  await allDone;
  const lags = followers.flatMap((f) => f.lags);
  const complete = followers.filter((f) => f.bytes === args.expectBytes).length;
  const closeCodes: Record<string, number> = {};
  for (const f of followers) closeCodes[f.closeCode ?? 'none'] = (closeCodes[f.closeCode ?? 'none'] ?? 0) + 1;
  finish({
    submittedAt,
    goAt,
    firstByteAt: Math.min(...followers.map((f) => f.firstByteAt || Number.POSITIVE_INFINITY)),
    lastByteAt: Math.max(...followers.map((f) => f.lastByteAt)),
    endAt: preciseNow(),
    totalBytes: followers.reduce((s, f) => s + f.bytes, 0),
    complete,
    statuses: [...new Set(followers.map((f) => f.status ?? 'none'))],
    reconnects: followers.reduce((s, f) => s + f.reconnects, 0),
    closeCodes,
    lags,
  });
}

main().catch((err: Error) => {
  emit('error', { message: err.stack ?? err.message });
  process.exit(1);
});
