/** Schedules (issue 14): the words their contract, their table and their service share. */

/**
 * What a tick does while the schedule's previous job or run has not ended (Kubernetes'
 * concurrencyPolicy): `skip` records the tick as skipped, `queue` fires anyway (the new job waits
 * its turn like any other), `cancel_previous` cancels what is still going, then fires.
 */
export const SCHEDULE_OVERLAPS = ['skip', 'queue', 'cancel_previous'] as const;
export type ScheduleOverlap = (typeof SCHEDULE_OVERLAPS)[number];

/**
 * What happens to ticks missed while no scheduler ran (every worker down): `none` skips them (only
 * the next tick to come fires), `latest` fires once, for the most recent of them.
 */
export const SCHEDULE_CATCH_UPS = ['none', 'latest'] as const;
export type ScheduleCatchUp = (typeof SCHEDULE_CATCH_UPS)[number];

/** A fire is a tick of the cron expression, or a trigger (POST /v1/schedules/{id}/trigger). */
export const FIRE_KINDS = ['tick', 'trigger'] as const;
export type FireKind = (typeof FIRE_KINDS)[number];

/**
 * `pending`: claimed, its job or run not yet recorded (a worker is creating it, or one died doing
 * so and another will finish: the job is keyed by the tick, so it is created once);
 * `fired`: its job or run exists; `skipped`: nothing was created (overlap, or missed ticks);
 * `failed`: the job or run was refused (the owner lost access, a target is gone, …), reason given.
 */
export const FIRE_OUTCOMES = ['pending', 'fired', 'skipped', 'failed'] as const;
export type FireOutcome = (typeof FIRE_OUTCOMES)[number];
