import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawnJobProcess } from './spawn-job-process.ts';

const JOB_ID = 'job_aaaaaaaaaaaaaaaaaaaa';
const tick = () => new Promise((r) => setTimeout(r, 10));

describe('spawnJobProcess with paused pipes (backpressure)', () => {
  it('delivers every byte before `exited` resolves, though stderr ends first', async () => {
    let received = 0;
    // Fits in the pipe plus the stream's buffer: the command exits while nobody reads.
    const proc = spawnJobProcess({ jobId: JOB_ID, command: 'head -c 70000 /dev/zero', env: {}, cwd: null }, (_s, data) => {
      received += data.length;
    });
    proc.pause();
    const atExit = await proc.exited.then(() => received);
    expect(atExit).toBe(70_000);
  });

  it('does not cut the pipes while paused past the linger after the shell exited', async () => {
    const total = 1_000_000;
    let received = 0;
    // Re-paused after every read, as the agent does while its buffer is full.
    const proc = spawnJobProcess({ jobId: JOB_ID, command: `head -c ${total} /dev/zero`, env: {}, cwd: null }, (_s, data) => {
      received += data.length;
      proc.pause();
    });
    let resolved = false;
    void proc.exited.then(() => (resolved = true));
    while (existsSync(`/proc/${proc.pid}`)) {
      proc.resume();
      await tick();
    }
    // The shell is gone with output still in its pipe; stay paused past the 1 s linger.
    await new Promise((r) => setTimeout(r, 1_200));
    while (!resolved) {
      proc.resume();
      await tick();
    }
    expect(received).toBe(total);
  });
});
