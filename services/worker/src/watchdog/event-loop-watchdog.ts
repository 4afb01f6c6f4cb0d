import { Worker } from 'node:worker_threads';

/**
 * A worker whose event loop stands still (a synchronous loop, a native call that never returns)
 * renews no lock, refreshes no presence and takes no job, and no timer of its own can notice:
 * a thread beside it watches a counter the main thread bumps every second. Once the counter has
 * not moved for `stuckMs`, the thread writes one line to stderr and SIGKILLs the process (the
 * only way out: a signal handler would need the stuck loop), for its supervisor to restart it.
 * Jobs of a worker killed this way end as a crashed worker's do (README, Guarantees).
 */
const BEAT_MS = 1000;

// Plain JS, evaluated as the thread's code: nothing to resolve or bundle.
const THREAD = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const beats = new Int32Array(workerData.beats);
const every = Math.min(1000, workerData.stuckMs / 4);
let last = Atomics.load(beats, 0);
let movedAt = performance.now();
let tickAt = movedAt;
setInterval(() => {
  // A monotonic clock (a wall-clock step is no stall), and a tick of this thread's own that came
  // late by half the limit means the whole process was frozen (a VM pause, SIGSTOP): the main
  // thread gets its chance to beat again before it is judged.
  const now = performance.now();
  const late = now - tickAt - every;
  tickAt = now;
  const seen = Atomics.load(beats, 0);
  if (seen !== last || late > workerData.stuckMs / 2) { last = seen; movedAt = now; return; }
  if (now - movedAt < workerData.stuckMs) return;
  writeSync(2, JSON.stringify({ level: 60, time: Date.now(), name: workerData.name, pid: process.pid, stuckForMs: Math.round(now - movedAt),
    msg: 'worker stuck: its event loop has not run for ' + Math.round((now - movedAt) / 1000) + ' s; killing the process (SIGKILL) for the supervisor to restart it' }) + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, every);
`;

export function startEventLoopWatchdog(opts: { stuckMs: number; name?: string }): { stop(): Promise<void> } {
  const shared = new SharedArrayBuffer(4);
  const beats = new Int32Array(shared);
  const beat = setInterval(() => Atomics.add(beats, 0, 1), Math.min(BEAT_MS, opts.stuckMs / 4));
  beat.unref();
  const thread = new Worker(THREAD, { eval: true, workerData: { beats: shared, stuckMs: opts.stuckMs, name: opts.name ?? 'worker' } });
  thread.unref();
  return {
    async stop() {
      clearInterval(beat);
      await thread.terminate();
    },
  };
}
