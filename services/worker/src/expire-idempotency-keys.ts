import type { ControlPlane } from '@vmo/shared/control-plane';
import { IDEMPOTENCY_TTL_HOURS } from '@vmo/shared/jobs';

/** Idempotency keys are kept 24 h; lookups already ignore older ones, this reclaims the rows. */
export async function expireIdempotencyKeys(cp: ControlPlane): Promise<void> {
  await cp.database.sql`
    delete from idempotency_keys where created_at < now() - ${IDEMPOTENCY_TTL_HOURS} * interval '1 hour'`;
}
