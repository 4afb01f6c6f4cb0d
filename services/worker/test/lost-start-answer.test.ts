/**
 * Issue 8, finding 4 (found by the store chaos test): the worker's `queued → running` UPDATE
 * commits but its answer is lost to a connection reset. The job used to stay `running` for good
 * under a live worker that never ran it; now the worker learns that its start landed and runs
 * the job, once.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { TcpProxy, TestSystem } from '@vmo/testkit';

const POSTGRES_PORT = Number(new URL(process.env.VMO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres').port || 5432);

describe.each(['local', 'agent'] as const)('the answer to a %s job\'s start is lost', (kind) => {
  let pgProxy: TcpProxy;
  let system: TestSystem;
  const dir = mkdtempSync(join(tmpdir(), 'vmo-lost-start-'));

  beforeAll(async () => {
    pgProxy = await TcpProxy.start(POSTGRES_PORT);
    system = await TestSystem.start({ label: `lost_start_${kind}`, databasePort: pgProxy.port, env: { VMO_AGENT_GRACE_MS: '60000' } });
  });
  afterAll(async () => {
    await system?.stop();
    await pgProxy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the job once and it ends succeeded', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    if (kind === 'agent') await system.startAgent('lost-start');
    // Armed now: the worker prepares its start statement on the first job it takes.
    const lost = pgProxy.losePostgresAnswer("set status = 'running'", 'UPDATE 1');
    const runs = join(dir, 'runs');
    const job = await client.submit({
      command: `echo "$VMO_JOB_ID" >> '${runs}'; echo started-once`,
      target: kind === 'local' ? { type: 'local' } : { type: 'agent', agent: 'lost-start' },
    });
    await Promise.race([lost, new Promise((_, reject) => setTimeout(() => reject(new Error('the start statement never went by')), 30_000))]);
    const ended = await client.waitForEnd(job.id, 60_000);
    expect(ended).toMatchObject({ status: 'succeeded', attempt: 1, exitCode: 0 });
    expect((await client.logs(job.id)).toString()).toBe('started-once\n');
    expect(existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').filter(Boolean) : []).toEqual([job.id]);
  });
});
