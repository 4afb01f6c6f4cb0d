import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { withDirLock } from '../../../scripts/dir-lock.mjs';

/**
 * scripts/dir-lock.mjs, the lock of built-services.ts (the services' build) and the dashboard's
 * ensure-built.ts, between real processes: two building at once, one builds and the other waits,
 * then finds it built; a lock left by a killed process is taken over; a failed build frees it.
 */
const DIR_LOCK = fileURLToPath(new URL('../../../scripts/dir-lock.mjs', import.meta.url));

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** What each caller does: build unless built (the staleness check inside the lock, as both callers do). */
const builder = (lock: string, marker: string, log: string) => `
  import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
  import { withDirLock } from ${JSON.stringify(DIR_LOCK)};
  const note = (what) => appendFileSync(${JSON.stringify(log)}, JSON.stringify({ pid: process.pid, what, at: Date.now() }) + '\\n');
  note('asked');
  withDirLock(${JSON.stringify(lock)}, () => {
    if (existsSync(${JSON.stringify(marker)})) return note('found it built');
    note('building');
    // The build lasts until the other process has asked too (however slowly it started), so it must wait.
    const until = Date.now() + 20_000;
    while (readFileSync(${JSON.stringify(log)}, 'utf8').split('"asked"').length < 3 && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    writeFileSync(${JSON.stringify(marker)}, 'built');
    note('built');
  }, { pollMs: 20 });
`;

function run(script: string): Promise<number | null> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  return new Promise((resolve) => child.once('exit', resolve));
}

describe('withDirLock (scripts/dir-lock.mjs)', () => {
  it('two processes building at once: one builds, the other waits for it and finds it built', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vmo-dir-lock-'));
    const [lock, marker, log] = [join(dir, 'parent', 'build.lock'), join(dir, 'built'), join(dir, 'log')];
    const codes = await Promise.all([run(builder(lock, marker, log)), run(builder(lock, marker, log))]);
    expect(codes).toEqual([0, 0]);

    const notes = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pid: number; what: string; at: number });
    expect(notes.filter((n) => n.what === 'building')).toHaveLength(1);
    const built = notes.find((n) => n.what === 'built')!;
    const waiter = notes.find((n) => n.what === 'found it built')!;
    expect(waiter.pid).not.toBe(built.pid);
    // The waiter asked while the build ran (it did wait), and went on only once the build was done.
    expect(notes.find((n) => n.what === 'asked' && n.pid === waiter.pid)!.at).toBeLessThan(built.at);
    expect(waiter.at).toBeGreaterThanOrEqual(built.at);
    expect(existsSync(lock)).toBe(false);
  }, 30_000);

  it('a lock left by a killed process (older than staleMs) is taken over', () => {
    dir = mkdtempSync(join(tmpdir(), 'vmo-dir-lock-'));
    const lock = join(dir, 'build.lock');
    mkdirSync(lock);
    const longAgo = new Date(Date.now() - 600_000);
    utimesSync(lock, longAgo, longAgo);
    const started = Date.now();
    expect(withDirLock(lock, () => 'ran', { staleMs: 60_000 })).toBe('ran');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(existsSync(lock)).toBe(false);
  });

  it('a failed build frees the lock, and its error reaches the caller', () => {
    dir = mkdtempSync(join(tmpdir(), 'vmo-dir-lock-'));
    const lock = join(dir, 'build.lock');
    expect(() =>
      withDirLock(lock, () => {
        appendFileSync(join(dir, 'tried'), 'x');
        throw new Error('vite failed');
      }),
    ).toThrow('vite failed');
    expect(existsSync(lock)).toBe(false);
    expect(withDirLock(lock, () => 'next')).toBe('next');
  });
});
