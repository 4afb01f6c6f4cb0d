/**
 * PROTOCOL.md §7 §8: the gateway's sweep (agent-gateway.ts, once per heartbeat) is the safety net
 * should the `revoke` or `token_rotated` message on Redis be lost: an agent revoked, or whose token
 * was rotated, straight in Postgres (no bus message at all) is closed 4401 / 4410 within a few
 * heartbeats, and an agent left alone stays connected through the sweeps.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';

describe('the gateway sweep closes agents revoked or rotated behind its back', () => {
  let system: TestSystem;
  let sql: postgres.Sql;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'gw-sweep' });
    sql = postgres(system.databaseUrl, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 2 });
    await system?.stop();
  });

  it('revoked: closed 4401 (the agent stops); rotated: closed 4410 (no token file: it stops); the other one stays online', async () => {
    const revoked = await system.startAgent('sweep-revoked');
    const rotated = await system.startAgent('sweep-rotated');
    const untouched = await system.startAgent('sweep-untouched');

    await sql`update agents set revoked_at = now() where id = ${revoked.id}`;
    await sql`update agents set token_hash = 'not-the-hash-it-connected-with' where id = ${rotated.id}`;

    expect((await revoked.process.exited).code).toBe(2);
    expect(revoked.process.output).toMatch(/revoked this agent's token \(close 4401/);
    expect((await rotated.process.exited).code).toBe(2);
    expect(rotated.process.output).toMatch(/token was rotated \(close 4410\)/);

    // Several sweeps later (heartbeat 0.5 s here), the untouched agent is still there, on its first connection.
    const before = untouched.process.output.match(/"msg":"connected"/g)?.length ?? 0;
    await waitFor('a few more sweeps', async () => {
      const [row] = await sql<{ ago: number }[]>`select extract(epoch from now() - last_seen_at) * 1000 as ago from agents where id = ${untouched.id}`;
      return row && Number(row.ago) < 1_000 ? true : undefined;
    }, 10_000);
    await system.waitForAgentStatus(untouched.id, 'online');
    expect(untouched.process.output.match(/"msg":"connected"/g)?.length ?? 0).toBe(before);
  });
});
