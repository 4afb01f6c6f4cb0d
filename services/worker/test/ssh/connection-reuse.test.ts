import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHostsLine, startSshd, waitFor, type Sshd } from '@vmo/testkit';
import { measureMs, ProgressDeadline, stallAfterMs } from './progress-deadline.ts';
import { SshTestBed } from './ssh-test-bed.ts';

/** A backstop only: the 200-job test is bounded by progress (see progress-deadline.ts). */
const BACKSTOP_MS = 15 * 60_000;

describe('ssh connection pool', () => {
  let bed: SshTestBed;
  let sshd: Sshd;
  let hostId: string;
  /** What one job on a fresh connection (kex included) costs on this machine now. */
  let sessionMs: number;

  beforeAll(async () => {
    bed = await SshTestBed.create('ssh_pool');
    sshd = await startSshd({ authorizedKeys: [bed.userKey.publicKey] });
    await bed.trustInKnownHosts(await knownHostsLine(sshd));
    hostId = (await bed.addHost({ port: sshd.port })).id;
    sessionMs = await measureMs(async () => {
      const pool = bed.pool();
      try {
        await bed.runJob(pool, hostId, 'true');
      } finally {
        await pool.close();
      }
    });
  });
  afterAll(async () => {
    await sshd?.stop();
    await bed?.close();
  });

  it('runs 200 jobs, sequential and concurrent, over one reused connection', { timeout: BACKSTOP_MS }, async () => {
    const pool = bed.pool();
    const progress = new ProgressDeadline(`200 jobs (a session costs ~${Math.round(sessionMs)} ms here)`, stallAfterMs(sessionMs));
    try {
      const before = await sshd.acceptedConnections();
      for (let i = 0; i < 20; i++) {
        const run = await progress.guard(progress.track(bed.runJob(pool, hostId, `echo seq-${i}`)));
        expect(run.stdout.toString()).toBe(`seq-${i}\n`);
      }
      const concurrent = await progress.guard(Promise.all(Array.from({ length: 180 }, (_, i) => progress.track(bed.runJob(pool, hostId, `echo par-${i}`)))));
      concurrent.forEach((run, i) => {
        expect(run.result).toMatchObject({ exitCode: 0 });
        expect(run.stdout.toString()).toBe(`par-${i}\n`);
      });
      expect(pool.opened).toBe(1);
      expect(await sshd.acceptedConnections()).toBe(before + 1);
    } finally {
      progress.stop();
      await pool.close();
    }
  });

  it('never runs more sessions at once than the channel limit; the rest wait their turn', async () => {
    const pool = bed.pool({ maxChannels: 2 });
    const log = `/tmp/vmo-pool-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    try {
      await Promise.all(Array.from({ length: 6 }, () => bed.runJob(pool, hostId, `echo start >> ${log}; sleep 0.2; echo end >> ${log}`)));
      const events = (await bed.runJob(pool, hostId, `cat ${log}; rm ${log}`)).stdout.toString().trim().split('\n');
      let running = 0;
      let peak = 0;
      for (const e of events) {
        running += e === 'start' ? 1 : -1;
        peak = Math.max(peak, running);
      }
      expect(events.filter((e) => e === 'start')).toHaveLength(6);
      expect(peak).toBeLessThanOrEqual(2);
    } finally {
      await pool.close();
    }
  });

  it('closes an idle connection after the idle timeout, and dials again when needed', async () => {
    // Long enough that the connection is still there when runJob returns (it reads the stored
    // output after the session ends), short enough to wait for.
    const pool = bed.pool({ idleMs: 1500 });
    try {
      await bed.runJob(pool, hostId, 'true');
      expect(pool.opened).toBe(1);
      expect(pool.size).toBe(1);
      await waitFor('the idle connection to close', () => pool.size === 0);
      expect((await bed.runJob(pool, hostId, 'echo again')).stdout.toString()).toBe('again\n');
      expect(pool.opened).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('a failed connection does not poison the pool: the next job dials afresh', async () => {
    const late = await startSshd({ authorizedKeys: [bed.userKey.publicKey] });
    const port = late.port;
    await late.stop(); // nothing listens there now
    const host = await bed.addHost({ port, pinnedHostKeys: [] });
    const pool = bed.pool();
    let again: Sshd | undefined;
    try {
      const failed = await Promise.all([bed.runJob(pool, host.id, 'true'), bed.runJob(pool, host.id, 'true')]);
      for (const f of failed) expect(f.result).toMatchObject({ error: { code: 'ssh_connect_failed' } });
      expect(pool.size).toBe(0);

      again = await startSshd({ authorizedKeys: [bed.userKey.publicKey], port });
      await bed.database.sql`update hosts set pinned_host_keys = ${JSON.stringify([again.hostKey.publicKey])}::jsonb where id = ${host.id}`;
      expect((await bed.runJob(pool, host.id, 'echo back')).stdout.toString()).toBe('back\n');
    } finally {
      await pool.close();
      await again?.stop();
    }
  });
});
