/** What a fleet run may target: an agent (over its connection) or an inventory host (over SSH). Pure: the contracts load it. */
export const TARGET_KINDS = ['agent', 'ssh'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];
