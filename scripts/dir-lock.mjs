// One build at a time across processes: a lock directory (mkdir is atomic), held while `fn` runs.
// Plain JavaScript so that whatever runs it needs no build step: vitest (testkit's built-services.ts),
// tsx (packages/dashboard/ensure-built.ts, the root's prestart) and node alike. Types: dir-lock.d.mts.
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Run `fn` holding the lock directory `lock`, and answer what it answers; the lock goes when `fn`
 * returns or throws. Synchronous, like its callers (a process spawned in a constructor, a prestart
 * script): a process that finds the lock taken waits, polling every `pollMs`, until the holder is
 * done. So two processes building at once: one builds, the other waits, then runs `fn` in its
 * turn, where it finds the work done (callers check staleness again inside `fn`).
 *
 * A lock older than `staleMs`, or still there after waiting that long, was left by a killed
 * process (no build takes that long): it is taken over. Two waiters taking over the same dead lock
 * at the same moment may end with one removing the lock the other has just taken, and two builds
 * at once: both callers build beside and rename into place, so that costs time, never a half file.
 *
 * @template T
 * @param {string} lock the lock directory (its parent is created)
 * @param {() => T} fn
 * @param {{ staleMs?: number; pollMs?: number }} [opts]
 * @returns {T}
 */
export function withDirLock(lock, fn, { staleMs = 180_000, pollMs = 50 } = {}) {
  mkdirSync(dirname(lock), { recursive: true });
  const until = Date.now() + staleMs;
  while (!takeDirLock(lock)) {
    const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > staleMs || Date.now() > until) rmSync(lock, { recursive: true, force: true });
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pollMs);
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** @param {string} lock @returns {boolean} taken; false when another process holds it */
function takeDirLock(lock) {
  try {
    mkdirSync(lock);
    return true;
  } catch (err) {
    // (Some filesystems answer another code for a directory that exists: it is taken all the same.)
    if (/** @type {NodeJS.ErrnoException} */ (err).code === 'EEXIST' || existsSync(lock)) return false;
    throw err; // EACCES, ENOSPC…: waiting would not help
  }
}
