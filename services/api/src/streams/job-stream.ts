import type { WebSocket } from 'ws';
import type { BusSubscriber, JobEvent, JobOutput } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { isTerminal, SUBSCRIBER_CATCH_UP_MS } from '@vmo/shared/domain';
import { getJobState, readOutputPage, type JobState } from '@vmo/shared/jobs';
import type { Logger } from '@vmo/shared/logger';
import { SubscriberCloseCode, type SubscriberMessage } from '@vmo/shared/protocol';
import { outputFrame, outputFrames } from './output-frames.ts';
import { countCutTooSlow, watchSubscriberSocket } from './socket-lifecycle.ts';

export interface JobStreamDeps {
  cp: ControlPlane;
  bus: BusSubscriber;
  log: Logger;
  /** Close the subscriber (4008) when this much is waiting in its socket. */
  maxBufferedBytes: number;
}

const PAGE = 256;
/** Safety net for lost pub/sub messages: look at Postgres this often even when nothing arrives. */
const TICK_MS = SUBSCRIBER_CATCH_UP_MS;
/** A replaying subscriber may sit above its buffer limit this long before it is cut (4008). */
const REPLAY_STALL_MS = 30_000;

/**
 * How a catch-up from Postgres treats a subscriber whose send buffer passes the limit.
 * - `paced`: a replay of what was stored before (at connect, what live messages carried while that
 *   replay ran, and the last sweep once the job has ended: nothing more will be produced). Reading
 *   Postgres waits for the socket to drain, so a slow link replays at its own speed; only a
 *   subscriber stuck over the limit for REPLAY_STALL_MS is cut. It ends by draining to half the
 *   limit, so the first live message after it finds room.
 * - `live`: the catch-up stands in for live messages (a gap, a lost message found by the tick, or
 *   the live queue overflowed while the stream was live). A subscriber over the limit then cannot
 *   keep up with the job, so it is cut at once, as on the live path. (Pacing here let a subscriber
 *   that fell behind live output be served at 1 KiB/s for 30 s, and ended it `1000` instead of
 *   `4008` if it sped up meanwhile.)
 */
type CatchUpMode = 'paced' | 'live';

/**
 * Serve `/v1/jobs/{id}/stream`: every stored byte after `after`, exactly once and in order, then
 * live output, then `end` once the job is over.
 *
 * A retried job (issue 14): each attempt has its own output, seqs from 0. The stream starts at
 * `attempt` (absent: the job's latest) and, when the attempt it serves is over and the job moved
 * on to another, sends the rest of it from Postgres, then `{type:'attempt'}` and the next
 * attempt's output, until the job ends for good. Live chunks are relayed only when they carry the
 * attempt being served; any other is taken from Postgres after looking at the job again.
 *
 * LOUD: order matters. (1) subscribe to the job's channels (events and output, BUS.md §3, §4),
 * (2) replay from Postgres, (3) relay
 * live chunks whose seq follows the last one sent, filling any gap from Postgres. Subscribing
 * after the replay would lose whatever was published in between. All work runs on one serial
 * chain, so replay, live messages and gap fills never interleave.
 */
export async function serveJobStream(ws: WebSocket, jobId: string, from: { after: number; attempt: number | undefined }, deps: JobStreamDeps): Promise<void> {
  const { cp, bus, log } = deps;
  let last = from.after;
  /** The attempt being served; the job's latest when the subscriber named none (set once the row is read). */
  let attempt = from.attempt ?? 0;
  let done = false;
  let chain: Promise<void>;

  const send = (msg: SubscriberMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  const close = (code: number, reason: string) => {
    if (done) return;
    done = true;
    clearInterval(tick);
    unlisten?.();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
  };
  const tooSlow = () => ws.bufferedAmount > deps.maxBufferedBytes;
  const cutTooSlow = () => {
    if (done) return;
    log.info({ jobId, bufferedBytes: ws.bufferedAmount, lastSeq: last }, 'subscriber too slow: closed 4008');
    countCutTooSlow();
    close(SubscriberCloseCode.tooSlow, 'subscriber too slow; reconnect with ?after=<last seq>');
  };
  const enqueue = (task: () => Promise<void>) => {
    chain = chain.then(() => (done ? undefined : task())).catch((err: Error) => {
      log.warn({ err: err.message, jobId }, 'job stream failed');
      close(SubscriberCloseCode.restart, 'stream interrupted; reconnect with ?after=<last seq>');
    });
  };

  /** True while a paced catch-up runs: live messages then wait for it and do not judge the subscriber. */
  let pacing = false;
  /** Send what Postgres has after `last` (optionally only up to `until`). */
  const catchUp = async (mode: CatchUpMode, until?: number) => {
    if (mode === 'live') return sendStored(mode, until);
    pacing = true;
    try {
      await sendStored(mode, until);
      if (!done) await waitForDrain(deps.maxBufferedBytes / 2);
    } finally {
      pacing = false;
    }
  };
  const sendStored = async (mode: CatchUpMode, until?: number) => {
    for (;;) {
      if (done) return;
      const page = await readOutputPage(cp.database.sql, jobId, { attempt, afterSeq: last, beforeSeq: until === undefined ? undefined : until + 1, limit: PAGE });
      for (const ch of page) {
        if (ch.seq !== last + 1) {
          // A hole in Postgres means the producer has not stored it yet; wait for it rather than skip bytes.
          return;
        }
        if (ws.readyState === ws.OPEN) ws.send(outputFrame(ch.seq, ch.stream, ch.data), { binary: false });
        last = ch.seq;
        // Checked per chunk, not per page: a page of large chunks would otherwise overshoot the limit.
        if (tooSlow()) {
          if (mode === 'live') return cutTooSlow();
          await waitForDrain(deps.maxBufferedBytes);
          if (done) return;
        }
      }
      if (page.length < PAGE) return;
    }
  };
  /** Wait until at most `target` bytes wait in the socket; cut the subscriber if that takes too long. */
  const waitForDrain = async (target: number) => {
    const deadline = Date.now() + REPLAY_STALL_MS;
    while (ws.bufferedAmount > target && !done) {
      if (Date.now() > deadline) return cutTooSlow();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const readState = () => getJobState(cp.database.sql, jobId);
  /** The attempt served is over and the job has moved past it: started a later one, or waits `queued` for the next. */
  const attemptOver = (row: JobState) => attempt < row.attempt || (attempt === row.attempt && row.status === 'queued' && row.retryAt !== null);
  /**
   * Past every attempt that is over: the rest of its output from Postgres (LOUD: a retry, like an
   * end, is written only after all of the attempt's output is durable, so this is complete), then
   * the marker of the next attempt, whose seqs start at 0.
   */
  const advance = async (row: JobState) => {
    while (!done && attemptOver(row)) {
      await catchUp('paced');
      if (done) return;
      attempt += 1;
      last = -1;
      const waiting = row.status === 'queued' && row.retryAt !== null && attempt === row.attempt + 1;
      send({ type: 'attempt', attempt, retryAt: waiting ? row.retryAt!.toISOString() : null });
    }
  };
  /** `known`: the job's row, read after subscribing (saves reading it again). */
  const finishIfEnded = async (known?: JobState) => {
    const row = known ?? (await readState());
    if (!row) return false;
    await advance(row);
    if (done || !isTerminal(row.status)) return false;
    await catchUp('paced'); // LOUD: the end is written only after all output is durable, so this is complete.
    if (done) return true;
    send({ type: 'end', status: row.status, exitCode: row.exitCode, signal: row.signal });
    close(SubscriberCloseCode.done, 'job ended');
    return true;
  };
  const onMessage = async (msg: JobEvent | JobOutput) => {
    if (msg.type === 'output') {
      const frames = outputFrames(msg);
      let elsewhere = false;
      for (let i = 0; i < msg.chunks.length; i++) {
        // Another attempt's (or one that does not say): never relayed as this one's. Looked up below.
        if (msg.chunks[i]!.attempt !== attempt) {
          elsewhere = true;
          continue;
        }
        const seq = msg.chunks[i]!.seq;
        if (seq <= last) continue; // already sent (replay or duplicate)
        if (seq > last + 1) await catchUp('live', seq - 1); // gap: fill from Postgres
        if (seq !== last + 1) continue; // still missing: a later catch-up sends it
        if (ws.readyState === ws.OPEN) ws.send(frames[i]!, { binary: false });
        last = seq;
      }
      if (tooSlow()) cutTooSlow();
      // The job may have moved to a later attempt before its status event came: look, then Postgres.
      if (elsewhere && !(await finishIfEnded())) await catchUp('live');
    } else if (msg.type === 'status') {
      send({ type: 'status', status: msg.status });
      // A retry (`queued`) or the next attempt's start: move on if the attempt served is over.
      await finishIfEnded();
    } else if (msg.type === 'end') {
      await finishIfEnded();
    }
  };

  watchSubscriberSocket(ws, close);

  let unlisten: (() => void) | undefined;
  const tick = setInterval(() => enqueue(async () => void ((await finishIfEnded()) || (await catchUp('live')))), TICK_MS);
  // Bound what waits on the chain (a replay can hold it for a while): past the subscriber's limit,
  // live messages are dropped and one catch-up from Postgres sends what they carried. A message is
  // always taken when nothing waits (one message may be larger than a small limit).
  let queuedBytes = 0;
  let overflowed = false;
  const onLive = (msg: JobEvent | JobOutput, size: number) => {
    if (overflowed) return;
    if (queuedBytes > 0 && queuedBytes + size > deps.maxBufferedBytes) {
      if (tooSlow() && !pacing) return cutTooSlow();
      // Behind a replay, what the dropped messages carried is replayed too (paced).
      const mode: CatchUpMode = pacing ? 'paced' : 'live';
      overflowed = true;
      enqueue(async () => {
        overflowed = false;
        if (!(await finishIfEnded())) await catchUp(mode);
      });
      return;
    }
    queuedBytes += size;
    enqueue(async () => {
      queuedBytes -= size;
      await onMessage(msg);
    });
  };
  // Both SUBSCRIBEs go out at once (one round trip); the replay starts once both are active.
  const subscribed = Promise.allSettled([bus.jobEvents(jobId, onLive), bus.jobOutput(jobId, onLive)]).then((results) => {
    const offs = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const off = () => offs.forEach((f) => f());
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      off();
      throw failed.reason;
    }
    return off;
  });
  chain = subscribed.then(
    (off) => {
      unlisten = off;
      if (done) off();
    },
    (err: Error) => {
      throw err;
    },
  );
  enqueue(async () => {
    const row = await readState();
    if (!row) return close(SubscriberCloseCode.notFound, 'no such job');
    if (from.attempt === undefined) attempt = Math.max(1, row.attempt);
    // Past the attempt to come (the job's attempt + 1): there is no such attempt.
    else if (from.attempt > row.attempt + 1) return close(SubscriberCloseCode.notFound, `the job has no attempt ${from.attempt}`);
    // Retention deleted the output (only ever of an ended job): the flag, then `end` with nothing before it.
    send({ type: 'status', status: row.status, attempt, ...(row.outputExpired ? { outputExpired: true as const } : {}) });
    if (!(await finishIfEnded(row))) await catchUp('paced');
  });
}
