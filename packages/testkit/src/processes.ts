import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';

/**
 * Pids of the processes whose full command line matches `pattern` (pgrep -f), to check that a
 * canceled job left nothing behind. pgrep never lists itself.
 */
export function processesMatching(pattern: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    execFile('pgrep', ['-f', pattern], (err, stdout) => {
      // Exit 1 means "none matched"; anything else is a real failure.
      if (err && (err as { code?: number }).code !== 1) return reject(err);
      resolve(stdout.split('\n').filter(Boolean).map(Number));
    });
  });
}

/**
 * A `sleep` argument no other process on the machine uses (`1000.<random>`), so a test can find
 * exactly the processes of its own job with `processesMatching`.
 */
export function uniqueSleepArg(seconds = 1000): string {
  return `${seconds}.${randomInt(100_000, 999_999)}`;
}

/**
 * Peak resident memory of a live process (VmHWM in /proc/<pid>/status), in bytes: the high-water
 * mark since it started, so one read after the load tells what the load cost.
 */
export function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kb) * 1024;
}
