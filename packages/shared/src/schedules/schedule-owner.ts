import type { ControlPlane } from '../control-plane/control-plane.ts';
import { ADMIN_GRANTS, loadGrants, type Grants } from '../access/grants.ts';
import { ROLE_SCOPES, type UserRole } from '../domain/access.ts';
import { AppError } from '../errors/app-error.ts';

/** Who a schedule fires as: its owner, with the grants they have NOW. */
export interface ScheduleOwner {
  /** users.id; null for the bootstrap admin. */
  userId: string | null;
  /** Stamped on the jobs and runs it creates (`createdBy`), as a submission by them would be. */
  name: string;
  grants: Grants;
}

/**
 * The owner of a schedule as a submission by them would be judged right now: their role and the
 * policies naming them or their role, read fresh (never cached: a policy withdrawn binds the next
 * tick). The bootstrap admin (no user) is an admin.
 *
 * LOUD: a tick is a submission by the owner. An owner who was disabled, deleted, or demoted to a
 * role that may not run jobs (viewer) makes every tick a failed fire (422 `owner_cannot_run`, its
 * reason recorded on the fire) until an admin deletes the schedule, or the owner gets the right
 * back. Whatever runs as them must pass their current checks, never the ones they had when they
 * created the schedule.
 */
export async function scheduleOwner(cp: ControlPlane, ownerId: string | null, createdBy: string | null): Promise<ScheduleOwner> {
  if (ownerId === null) return { userId: null, name: createdBy ?? 'admin', grants: ADMIN_GRANTS };
  const [user] = await cp.database.sql<{ id: string; name: string; role: UserRole; disabled: boolean }[]>`
    select id, name, role, disabled from users where id = ${ownerId}`;
  if (!user) throw new AppError(422, 'owner_cannot_run', `the schedule's owner (user ${ownerId}) no longer exists; an admin may delete the schedule`);
  if (user.disabled) throw new AppError(422, 'owner_cannot_run', `the schedule's owner ${JSON.stringify(user.name)} is disabled; a schedule runs as its owner`);
  if (!ROLE_SCOPES[user.role].includes('jobs:run')) {
    throw new AppError(422, 'owner_cannot_run', `the schedule's owner ${JSON.stringify(user.name)} has the role ${user.role}, which may not run jobs; a schedule runs as its owner`);
  }
  return { userId: user.id, name: user.name, grants: await loadGrants(cp.database.sql, { userId: user.id, role: user.role }) };
}
