import { expect } from 'vitest';
import { waitFor, type TestSystem } from '@vmo/testkit';
import { openSql, Scratch } from '../faults/fault-kit.ts';

/**
 * The load and the checks every Redis failover case of issue 19 shares: jobs whose output is
 * known in advance and which record each start in a file; submitted before, during and after a
 * fault; then the counts. Nothing here measures time except what it reports.
 */

const LINES = 12;

/** The exact stdout of job `n` (what its stored output must equal, byte for byte). */
export const expectedOutput = (n: number): string => Array.from({ length: LINES }, (_, i) => `job ${n} line ${i} ${'x'.repeat(n % 7)}\n`).join('');

export class FailoverLoad {
  readonly scratch = new Scratch();
  /** Every job the API acknowledged (201), with its number. */
  readonly acknowledged: { id: string; n: number; phase: 'before' | 'during' | 'after' }[] = [];
  /** Submissions the API refused (not acknowledged: the caller knows to retry). */
  refused = 0;
  private next = 0;

  /** `target`: where the jobs run (local by default; an agent's `{ type: 'agent', agent: name }`). */
  constructor(
    private readonly system: TestSystem,
    private readonly target: Record<string, unknown> = { type: 'local' },
  ) {}

  /** A job that records its start, then prints its lines over about half a second. */
  private command(n: number): string {
    const runs = this.scratch.path('runs');
    return `echo "$VMO_JOB_ID" >> '${runs}'; i=0; while [ $i -lt ${LINES} ]; do printf 'job ${n} line %s ${'x'.repeat(n % 7)}\\n' $i; sleep 0.04; i=$((i+1)); done`;
  }

  async submit(count: number, phase: 'before' | 'during' | 'after'): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, async () => {
        const n = this.next++;
        const res = await this.system.client.request('POST', '/v1/jobs', { command: this.command(n), target: this.target });
        if (res.status === 201) this.acknowledged.push({ id: (res.body as { id: string }).id, n, phase });
        else this.refused++;
      }),
    );
  }

  /** Some of the jobs submitted so far are running (the fault lands mid-load). */
  async waitForSomeRunning(): Promise<void> {
    await waitFor('jobs running', async () => {
      const res = await this.system.client.request('GET', '/v1/jobs?status=running&limit=5');
      return (res.body as { items: unknown[] }).items.length > 0 || undefined;
    }, 60_000, 50);
  }

  /**
   * Every acknowledged job reached a terminal status in Postgres, succeeded, with byte-identical
   * output, started exactly once (one line in the runs file, attempt 1).
   */
  async expectEveryJobOnce(timeoutMs = 120_000): Promise<{ succeeded: number; starts: number }> {
    const sql = openSql(this.system.databaseUrl);
    try {
      const ids = this.acknowledged.map((j) => j.id);
      const rows = await waitFor('every acknowledged job to end', async () => {
        const found = await sql<{ id: string; status: string; attempt: number }[]>`select id, status, attempt from jobs where id in ${sql(ids)}`;
        return found.length === ids.length && found.every((r) => ['succeeded', 'failed', 'canceled', 'timed_out', 'lost'].includes(r.status)) ? found : undefined;
      }, timeoutMs, 200);
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const job of this.acknowledged) expect(byId.get(job.id), `${job.phase} job ${job.n}`).toMatchObject({ status: 'succeeded', attempt: 1 });
      const chunks = await sql<{ job_id: string; data: Buffer }[]>`select job_id, data from job_output where job_id in ${sql(ids)} and stream = 1 order by job_id, seq`;
      const stdout = new Map<string, Buffer[]>();
      for (const c of chunks) stdout.set(c.job_id, [...(stdout.get(c.job_id) ?? []), c.data]);
      for (const job of this.acknowledged) expect(Buffer.concat(stdout.get(job.id) ?? []).toString('latin1'), `${job.phase} job ${job.n}`).toBe(expectedOutput(job.n));
      const starts = this.scratch.lines('runs');
      const counts = new Map<string, number>();
      for (const id of starts) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const job of this.acknowledged) expect(counts.get(job.id) ?? 0, `starts of ${job.phase} job ${job.n}`).toBe(1);
      expect(starts.length).toBe(this.acknowledged.length);
      return { succeeded: rows.length, starts: starts.length };
    } finally {
      await sql.end();
    }
  }

  cleanup(): void {
    this.scratch.cleanup();
  }
}
