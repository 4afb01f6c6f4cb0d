import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { findMarkedProcesses } from './marked-processes.ts';
import { spawnHelper } from './spawn-helper.ts';
import { spawnJobProcess } from './spawn-job-process.ts';

const SPAWN_JOB_PROCESS = fileURLToPath(new URL('./spawn-job-process.ts', import.meta.url));
let n = 0;
const jobId = () => `job_spawnhelper${process.pid}x${++n}`.padEnd(24, 'a').slice(0, 24);
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

async function waitUntil(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const killed: number[] = [];
afterEach(() => {
  for (const pid of killed.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

describe.runIf(process.platform === 'linux')('the spawn helper (jobs forked from a small process)', () => {
  it('is what spawnJobProcess uses: the shell is the helper’s child, not this process’s', async () => {
    const proc = spawnJobProcess({ jobId: jobId(), command: 'echo $PPID', env: {}, cwd: null }, () => {});
    let out = '';
    const p2 = spawnJobProcess({ jobId: jobId(), command: 'echo $PPID', env: {}, cwd: null }, (_s, d) => (out += d.toString()));
    await Promise.all([proc.exited, p2.exited]);
    expect(Number(out.trim())).toBe(spawnHelper()!.pid);
    expect(Number(out.trim())).not.toBe(process.pid);
  });

  it('passes the exit code, the signal, stderr apart from stdout, env and cwd', async () => {
    let out = '';
    let err = '';
    const proc = spawnJobProcess({ jobId: jobId(), command: 'pwd; echo "$GREETING" >&2; exit 3', env: { GREETING: 'hello' }, cwd: '/tmp' }, (s, d) => {
      if (s === 1) out += d.toString();
      else err += d.toString();
    });
    expect(await proc.exited).toEqual({ exitCode: 3, signal: null, stopped: false });
    expect(out).toBe('/tmp\n');
    expect(err).toBe('hello\n');
    const killedBySignal = spawnJobProcess({ jobId: jobId(), command: 'kill -9 $$', env: {}, cwd: null }, () => {});
    expect(await killedBySignal.exited).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
  });

  it('reports a command that cannot start (missing cwd)', async () => {
    const proc = spawnJobProcess({ jobId: jobId(), command: 'true', env: {}, cwd: '/nonexistent/vmo-spawn-helper' }, () => {});
    const exit = await proc.exited;
    expect(exit.error?.code).toBe('spawn_failed');
    expect(await proc.spawned).toBeUndefined();
  });

  it('a stop asked before the pid is known reaches the whole group', async () => {
    const marker = jobId();
    const proc = spawnJobProcess({ jobId: marker, command: 'sleep 300 & sleep 300; echo never', env: {}, cwd: null }, () => {});
    proc.stop(10_000); // at once: the helper has not answered yet
    const exit = await proc.exited;
    expect(exit).toMatchObject({ signal: 'SIGTERM', stopped: true });
    await waitUntil('every process of the group gone', () => findMarkedProcesses({ env: { name: 'VMO_JOB_ID', value: marker } }).length === 0);
  });

  it('a helper that dies takes its jobs with it: their groups are killed and they end by SIGKILL', async () => {
    const marker = jobId();
    const proc = spawnJobProcess({ jobId: marker, command: 'sleep 300 & sleep 300', env: {}, cwd: null }, () => {});
    const pid = (await proc.spawned)!;
    killed.push(pid);
    process.kill(spawnHelper()!.pid!, 'SIGKILL');
    expect(await proc.exited).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    await waitUntil('every process of the group gone', () => findMarkedProcesses({ env: { name: 'VMO_JOB_ID', value: marker } }).length === 0);
    // The next job starts a new helper.
    let out = '';
    const next = spawnJobProcess({ jobId: jobId(), command: 'echo again', env: {}, cwd: null }, (_s, d) => (out += d.toString()));
    expect(await next.exited).toMatchObject({ exitCode: 0 });
    expect(out).toBe('again\n');
  });

  it('dies with its parent: a service killed -9 leaves no job running', async () => {
    const marker = jobId();
    const script = `import { spawnJobProcess } from ${JSON.stringify(SPAWN_JOB_PROCESS)};
      const p = spawnJobProcess({ jobId: ${JSON.stringify(marker)}, command: 'sleep 300 & sleep 300', env: {}, cwd: null }, () => {});
      p.spawned.then((pid) => console.log('pid', pid));`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = out.match(/pid (\d+)/);
        if (m) resolve(Number(m[1]));
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before starting the job: ${out}`)));
    });
    killed.push(pid);
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await waitUntil('the job killed with its service', () => !alive(pid) && findMarkedProcesses({ env: { name: 'VMO_JOB_ID', value: marker } }).length === 0);
  });
});
