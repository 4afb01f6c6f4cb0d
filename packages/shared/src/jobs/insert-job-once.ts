import { and, eq, sql as dsql } from 'drizzle-orm';
import { AppError } from '../errors/app-error.ts';
import { idempotencyKeys, jobSecrets, jobs } from '../db/schema/index.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { IDEMPOTENCY_TTL_HOURS, type Idempotency } from './idempotency.ts';
import type { JobRow } from './job-view.ts';

/**
 * Insert the job and claim the key in one transaction. Concurrent requests with the same key
 * serialise on the key's primary key: the first commits its job, the others then see its row
 * and get that job back (same body) or 422 (different body). Expired keys are replaced.
 */
export async function insertJobOnce(
  cp: ControlPlane,
  values: typeof jobs.$inferInsert,
  idem: Idempotency,
  hash: string,
  /** The job's sealed secretEnv: inserted in the same transaction as the job. */
  sealedSecretEnv?: Buffer,
): Promise<{ job: JobRow; replayed: boolean }> {
  return cp.database.db.transaction(async (tx) => {
    await tx
      .delete(idempotencyKeys)
      .where(
        and(
          eq(idempotencyKeys.principal, idem.principal),
          eq(idempotencyKeys.key, idem.key),
          dsql`${idempotencyKeys.createdAt} < now() - ${IDEMPOTENCY_TTL_HOURS} * interval '1 hour'`,
        ),
      );
    const claimed = await tx
      .insert(idempotencyKeys)
      .values({ principal: idem.principal, key: idem.key, requestHash: hash, jobId: values.id })
      .onConflictDoNothing()
      .returning({ jobId: idempotencyKeys.jobId });
    if (claimed.length === 1) {
      // Held until its runAt when that is ahead, as insertJob does (the same expression).
      const runAt = values.runAt ? values.runAt.toISOString() : null;
      const [job] = await tx
        .insert(jobs)
        .values({ ...values, releasedAt: runAt === null ? dsql`clock_timestamp()` : dsql`case when ${runAt}::timestamptz > clock_timestamp() then null else clock_timestamp() end` })
        .returning();
      if (sealedSecretEnv) await tx.insert(jobSecrets).values({ jobId: values.id, sealed: sealedSecretEnv });
      return { job: job!, replayed: false };
    }
    const [existing] = await tx
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.principal, idem.principal), eq(idempotencyKeys.key, idem.key)));
    if (!existing || existing.requestHash !== hash) {
      throw new AppError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request; use a new key for a new job');
    }
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, existing.jobId));
    return { job: job!, replayed: true };
  });
}
