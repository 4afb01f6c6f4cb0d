/**
 * A target of a project's Makefile as discovery found it (issue 15 §Projects): what
 * GET /v1/projects/{alias}/targets answers and what the project row caches. Pure: the contracts
 * and the schema load it.
 */
export interface MakeTarget {
  name: string;
  /** From `target: deps ## description` on its rule line in the makefile source (or the list command's output); '' when none. */
  description: string;
  /** Listed as a prerequisite of .PHONY (false when the list command found it: it does not say). */
  phony: boolean;
  /** Where its recipe is (`Makefile`, `mk/rules.mk`), as make reports it; null when it has none or the list command found it. */
  file: string | null;
  line: number | null;
}

/** How a project's targets were found: GNU make's database, or the project's own list command. */
export const DISCOVERY_SOURCES = ['make', 'list_command'] as const;
export type DiscoverySource = (typeof DISCOVERY_SOURCES)[number];

/** Where a project lives: the kinds of a job target. */
export const PROJECT_TARGET_KINDS = ['local', 'agent', 'ssh'] as const;
export type ProjectTargetKind = (typeof PROJECT_TARGET_KINDS)[number];
