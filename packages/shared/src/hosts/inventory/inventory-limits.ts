import { AppError } from '../../errors/app-error.ts';

/**
 * Limits on an imported inventory. The text comes from an HTTP body (itself at most 1 MiB), so
 * what it can make the API do is bounded before and while it is read; each limit is far above
 * real inventories (the largest seen have a few thousand hosts in a few hundred groups) and is
 * answered with a 413 `inventory_too_large` that names it.
 */
export const INVENTORY_LIMITS = {
  /** UTF-8 bytes of an Ansible inventory, or of all the vm-config files of one import together. */
  bytes: 512 * 1024,
  /** vm-config files in one import. */
  files: 1000,
  /**
   * Nested YAML collections. Checked while the YAML is tokenised, before it is composed: the
   * composer recurses per level, and deep enough input (tens of thousands of levels) exhausts
   * the stack or the heap of the whole process. Real inventories nest fewer than ten.
   */
  yamlDepth: 64,
  /** YAML nodes after aliases are expanded (a "billion laughs" document stops here). */
  yamlNodes: 200_000,
  /** Hosts, after ranges like web[01:99] are expanded. */
  hosts: 10_000,
  groups: 5_000,
  /** Host-in-group entries (a range line repeated in many groups multiplies). */
  memberships: 200_000,
} as const;

export const inventoryTooLarge = (message: string, field = 'inventory') =>
  new AppError(413, 'inventory_too_large', `${field}: ${message}`, { field });

/** 400 naming the field (`inventory`, `files.<path>`) and, where known, the line. */
export const invalidInventory = (field: string, message: string, line?: number) =>
  new AppError(400, 'invalid_inventory', `${field}${line === undefined ? '' : ` line ${line}`}: ${message}`, { field, ...(line === undefined ? {} : { line }) });
