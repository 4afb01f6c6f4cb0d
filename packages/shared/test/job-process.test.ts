import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jobEnv, spawnJobProcess } from '../src/process/index.ts';

const JOB_ID = 'job_aaaaaaaaaaaaaaaaaaaa';

describe('the environment a job sees', () => {
  it('is the minimal base with the job env over it, and VMO_JOB_ID is always the job id', () => {
    const env = jobEnv(JOB_ID, { GREETING: 'hi', PATH: '/opt/bin', VMO_JOB_ID: 'job_forged00000000000000' }, { name: 'alice', home: '/home/alice' });
    expect(env).toEqual({ PATH: '/opt/bin', HOME: '/home/alice', USER: 'alice', LOGNAME: 'alice', SHELL: '/bin/sh', LANG: 'C.UTF-8', GREETING: 'hi', VMO_JOB_ID: JOB_ID });
  });

  it("is what the command gets: nothing of this process's own environment", async () => {
    process.env.VMO_TEST_SERVICE_SECRET = 'must-not-leak';
    try {
      let out = '';
      const proc = spawnJobProcess({ jobId: JOB_ID, command: 'env | cut -d= -f1 | sort', env: { ONE: '1', VMO_JOB_ID: 'job_forged00000000000000' }, cwd: null }, (_s, d) => (out += d));
      await proc.exited;
      expect(out.trim().split('\n')).toEqual(['HOME', 'LANG', 'LOGNAME', 'ONE', 'PATH', 'PWD', 'SHELL', 'USER', 'VMO_JOB_ID']);
      let id = '';
      const again = spawnJobProcess({ jobId: JOB_ID, command: 'printf %s "$VMO_JOB_ID"', env: { VMO_JOB_ID: 'job_forged00000000000000' }, cwd: null }, (_s, d) => (id += d));
      await again.exited;
      expect(id).toBe(JOB_ID);
    } finally {
      delete process.env.VMO_TEST_SERVICE_SECRET;
    }
  });
});

describe('JobProcessExit.stopped: did our signal come before the exit?', () => {
  it('true when stop() reached the running shell', async () => {
    const proc = spawnJobProcess({ jobId: JOB_ID, command: 'sleep 1000', env: {}, cwd: null }, () => {});
    proc.stop(5_000);
    expect(await proc.exited).toMatchObject({ exitCode: null, signal: 'SIGTERM', stopped: true });
  });

  it('false when the shell had exited first, though stop() still cleans up what it left', async () => {
    // The shell exits at once; the background sleep holds stdout, so `exited` waits (linger).
    const proc = spawnJobProcess({ jobId: JOB_ID, command: 'sleep 1000 & exit 0', env: {}, cwd: null }, () => {});
    // Reaped (gone from /proc) means node has handled its exit: libuv reaps and reports in one go.
    while (existsSync(`/proc/${proc.pid}`)) await new Promise((r) => setTimeout(r, 10));
    proc.stop(5_000);
    expect(await proc.exited).toMatchObject({ exitCode: 0, signal: null, stopped: false });
  });

  it('false for a command that ends on its own', async () => {
    const proc = spawnJobProcess({ jobId: JOB_ID, command: 'exit 4', env: {}, cwd: null }, () => {});
    expect(await proc.exited).toMatchObject({ exitCode: 4, stopped: false });
  });
});

