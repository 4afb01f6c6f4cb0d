import { spawn, execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAUNCHER, remoteScript } from './remote-script.ts';

const SECRET = 'vmo-remote-script-S3cret-q8Zt';
const dir = mkdtempSync(join(tmpdir(), 'vmo-remote-script-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = probe();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('remoteScript', () => {
  it('on a host whose sshd does not make the session a group leader, the script (env values, secrets) never sits in argv', async () => {
    // The script's stderr is a FIFO filled to the brim before it starts: its first marker line
    // blocks, holding the shell at the point where it has re-executed itself under setsid(1).
    const fifo = join(dir, 'stderr');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const fill = Buffer.alloc(4096, 0x2e);
    try {
      for (;;) writeSync(writer, fill);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
    // Not detached: the shell is in this process's group, not a leader, as under such an sshd.
    const child = spawn('/bin/sh', ['-c', LAUNCHER], { stdio: ['pipe', 'pipe', writer] });
    closeSync(writer);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdin!.end(remoteScript({ nonce: 'vmo-nonce', jobId: 'job_test', command: 'printf %s "$TOKEN"', env: { TOKEN: SECRET }, cwd: null }));

    const cmdline = await until('the shell re-executed under setsid', () => {
      const text = readFileSync(`/proc/${child.pid}/cmdline`, 'latin1');
      return text.startsWith('/bin/sh\0') && text.includes('vmo_script') && !text.includes('$(cat)') ? text : undefined;
    });
    expect(cmdline.split('\0')).toEqual(['/bin/sh', '-c', 'eval "$vmo_script"', '']);
    expect(cmdline).not.toContain(SECRET);

    // Let it go on: drain the FIFO until the shell has exited.
    const drain = Buffer.alloc(65536);
    const draining = setInterval(() => {
      try {
        while (readSync(reader, drain) > 0);
      } catch {
        // EAGAIN: empty for now
      }
    }, 10);
    try {
      expect(await exited).toBe(0);
    } finally {
      clearInterval(draining);
      closeSync(reader);
    }
    // The variable still reached the command, through the setsid path.
    expect(stdout).toBe(SECRET);
  });

  it('finds its process group without starting ps or tr where /proc is there, and reports it in the marker', async () => {
    // ps and tr on PATH that leave a trace if the script ever runs them.
    const bin = join(dir, 'bin');
    const trace = join(dir, 'ran');
    execFileSync('mkdir', ['-p', bin]);
    for (const tool of ['ps', 'tr']) writeFileSync(join(bin, tool), `#!/bin/sh\necho ${tool} >> ${trace}\n`, { mode: 0o755 });
    // Detached: the shell leads its own group, as under OpenSSH's sshd (setsid per session).
    const child = spawn('/bin/sh', ['-c', LAUNCHER], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdin!.end(remoteScript({ nonce: 'vmo-nonce', jobId: 'job_test', command: 'echo "$# $1 [$vmo_pg$vmo_stat]"', env: {}, cwd: null }));
    expect(await exited).toBe(0);
    expect(stderr).toBe(`vmo-nonce pgid ${child.pid}\nvmo-nonce run\n`);
    // Nothing of the launcher leaks into the command: no positional parameters, no variables.
    expect(stdout).toBe('0  []\n');
    expect(existsSync(trace)).toBe(false);
  });
});
