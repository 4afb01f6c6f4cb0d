/**
 * Revoking an agent while a worker starts one of its queued jobs (issue 8 #15, and the race a
 * review found): the revoke listed the job `queued`, a worker then moved it to `running` (its
 * presence check ran before the revoke), so `queued → failed` matches nothing. The job must
 * still end at once, `failed` with `agent_revoked`, from `running` with its new attempt, not
 * run on, cut off, until it ends `lost` after the whole grace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, type TestDatabase } from '@vmo/testkit';
import { tryParseEnv, commonSchema } from '../src/config/index.ts';
import { openControlPlane, type ControlPlane } from '../src/control-plane/index.ts';
import { newId } from '../src/domain/ids.ts';
import { endRevokedAgentJob } from '../src/jobs/end-revoked-agent-jobs.ts';
import { getJob, transition } from '../src/jobs/index.ts';
import { createLogger } from '../src/logger.ts';

let testDb: TestDatabase;
let prefix: ReturnType<typeof createTestPrefix>;
let cp: ControlPlane & { close(): Promise<void> };

beforeAll(async () => {
  testDb = await createTestDatabase('revoke_race');
  prefix = createTestPrefix('revoke-race');
  const config = tryParseEnv(commonSchema, { VMO_DATABASE_URL: testDb.url, VMO_REDIS_URL: TEST_REDIS_URL, VMO_REDIS_PREFIX: prefix.prefix });
  cp = await openControlPlane(config, createLogger('revoke-race', 'silent'), { dbPoolSize: 2 });
});

afterAll(async () => {
  await cp?.close();
  await testDb?.drop();
  await prefix?.cleanup();
});

async function queuedAgentJob(): Promise<{ jobId: string; agentId: string }> {
  const agentId = newId('agt');
  await cp.database.sql`insert into agents (id, name, token_hash, revoked_at) values (${agentId}, ${agentId}, ${agentId}, now())`;
  const jobId = newId('job');
  await cp.database.sql`
    insert into jobs (id, status, command, target, timeout_ms, attempt, agent_id)
    values (${jobId}, 'queued', 'sleep 600', ${JSON.stringify({ type: 'agent', agent: agentId })}::jsonb, 60000, 0, ${agentId})`;
  return { jobId, agentId };
}

describe('a revoked agent’s job started between the revoke’s list and its end', () => {
  it('ends failed agent_revoked from running, with the attempt the worker started', async () => {
    const { jobId, agentId } = await queuedAgentJob();
    const listed = { id: jobId, attempt: 0, status: 'queued' as const };
    // The worker wins the race: queued → running, attempt 1.
    const started = await transition(cp, jobId, { kind: 'start', workerId: 'wrk_race', checkedAgentId: agentId });
    expect(started?.status).toBe('running');

    expect(await endRevokedAgentJob(cp, agentId, listed)).toBe(true);
    const job = await getJob(cp.database.sql, jobId);
    expect(job).toMatchObject({ status: 'failed', attempt: 1, errorCode: 'agent_revoked' });
    expect(job!.errorMessage).toMatch(/revoked while the job ran/);
  });

  it('leaves a job that another writer already ended as it is', async () => {
    const { jobId, agentId } = await queuedAgentJob();
    await transition(cp, jobId, { kind: 'stop_queued', reason: 'canceled' });
    expect(await endRevokedAgentJob(cp, agentId, { id: jobId, attempt: 0, status: 'queued' })).toBe(false);
    expect((await getJob(cp.database.sql, jobId))?.status).toBe('canceled');
  });
});
