/**
 * A run's secretEnv in the control plane (real Postgres and Redis, no other process): sealed ONCE
 * for the run whatever its number of children, each child reads it through its run (what a worker
 * or the agent's API node opens), it goes in the transaction that ends the run, the sweep drops
 * what a crash left, and without a key nothing is written.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors/index.ts';
import { dropEndedJobSecrets, openSecretEnv, readSealedSecretEnv } from '../src/jobs/secrets/index.ts';
import { cancelRun, submitRun } from '../src/runs/index.ts';
import { SecretBox } from '../src/secrets/index.ts';
import { openRunTestPlane, runInput, type RunTestPlane } from './runs-fixture.ts';

let t: RunTestPlane;
const box = new SecretBox(randomBytes(32));
const HOSTS = 1000;
/** 60 KiB of secrets: per child, 1,000 children would write 60 MiB inside the submission. */
const secretEnv = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`S${i}`, `${i}`.repeat(15 * 1024)]));
const secretBytes = Object.entries(secretEnv).reduce((n, [k, v]) => n + k.length + v.length, 0);

beforeAll(async () => {
  t = await openRunTestPlane('runs_secrets');
  t.cp.secretBox = box;
  await t.cp.database.sql`
    insert into hosts (id, name, environment, host, "user", labels)
    select 'host_sec' || lpad(i::text, 16, '0'), 'sec-' || i, 'default', '127.0.0.1', 'nobody', '{"fleet":"sec"}'::jsonb
    from generate_series(1, ${HOSTS}) as i`;
});

afterAll(async () => {
  await t?.close();
});

const sql = () => t.cp.database.sql;
const runSecretRows = async (runId: string) => (await sql()<{ bytes: number }[]>`select octet_length(sealed) as bytes from run_secrets where run_id = ${runId}`).map((r) => r.bytes);

describe("a run's secretEnv", () => {
  it('is sealed once for 1,000 children, and every child opens it through its run', async () => {
    const { run } = await submitRun(t.cp, runInput({ targets: { selector: 'fleet=sec' }, secretEnv }), { createdBy: null, maxTargets: 10_000 });
    expect(run.total).toBe(HOSTS);
    expect(run.secretEnvNames).toEqual(['S0', 'S1', 'S2', 'S3']);
    const rows = await runSecretRows(run.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toBeLessThan(secretBytes + 1024); // one sealed copy, not one per child
    expect((await sql()<{ n: number }[]>`select count(*)::int as n from job_secrets`)[0]!.n).toBe(0);
    const kids = await t.children(run.id);
    for (const kid of [kids[0]!, kids[HOSTS - 1]!]) {
      expect(kid.secretEnvNames).toEqual(['S0', 'S1', 'S2', 'S3']);
      const sealed = await readSealedSecretEnv(sql(), kid.id);
      expect(openSecretEnv(box, kid.id, sealed!)).toEqual(secretEnv);
    }
    // Ended (canceled: every child ends canceled): the roll-up that makes it final drops it.
    await cancelRun(t.cp, run.id, 0);
    expect((await t.run(run.id)).status).toBe('canceled');
    expect(await runSecretRows(run.id)).toEqual([]);
    expect(await readSealedSecretEnv(sql(), kids[0]!.id)).toBeUndefined();
  });

  it("the sweep drops a run's secrets that its end left behind, and keeps a live run's", async () => {
    const { run: live } = await submitRun(t.cp, runInput({ targets: { hosts: ['sec-1'] }, secretEnv: { TOKEN: 'live-secret' } }), { createdBy: null, maxTargets: 10 });
    const { run: ended } = await submitRun(t.cp, runInput({ targets: { hosts: ['sec-2'] }, secretEnv: { TOKEN: 'ended-secret' } }), { createdBy: null, maxTargets: 10 });
    // As if the run had ended where the roll-up's delete did not happen (a version before it).
    await sql()`update runs set status = 'succeeded', finished_at = now() where id = ${ended.id}`;
    expect(await dropEndedJobSecrets(sql())).toBeGreaterThanOrEqual(1);
    expect(await runSecretRows(ended.id)).toEqual([]);
    expect(await runSecretRows(live.id)).toHaveLength(1);
  });

  it('without VMO_SECRET_KEY is 422 secrets_disabled, before anything is written', async () => {
    const before = (await sql()<{ n: number }[]>`select count(*)::int as n from runs`)[0]!.n;
    const noKey = { ...t.cp, secretBox: undefined };
    const err = await submitRun(noKey, runInput({ targets: { hosts: ['sec-1'] }, secretEnv: { TOKEN: 'a-secret' } }), { createdBy: null, maxTargets: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 422, code: 'secrets_disabled' });
    expect((err as Error).message).not.toContain('a-secret');
    expect((await sql()<{ n: number }[]>`select count(*)::int as n from runs`)[0]!.n).toBe(before);
  });
});
