import type { ControlPlane } from '../control-plane/control-plane.ts';
import { markChanged } from '../bus/change-notifier.ts';
import type { AnsibleImportInput, VmConfigImportInput } from './host-input.ts';
import type { HostView } from './host-view.ts';
import { ansibleCandidates, GROUP_LABEL_PREFIX, type ImportCandidate, type SkippedEntry } from './inventory/ansible-candidates.ts';
import { readAnsibleInventory } from './inventory/read-ansible-inventory.ts';
import { upsertImportedHosts } from './inventory/upsert-imported-hosts.ts';
import { ENV_LABEL, vmConfigCandidates } from './inventory/vm-config-candidates.ts';

/** The SSH import's answer (created, updated, unchanged, skipped, warnings), with the file of a skipped entry. */
export interface InventoryImportResult {
  created: HostView[];
  updated: HostView[];
  unchanged: HostView[];
  skipped: SkippedEntry[];
  warnings: { line: number; directive: string; aliases: string[]; message: string; file?: string }[];
}

/**
 * POST /v1/hosts/import with `format: "ansible"` or `"vm-config"`. The whole input is read and
 * checked first (a refusal is a 400 or 413 before anything is written), then every host is written
 * in one transaction: all or nothing.
 */
export async function importInventory(cp: ControlPlane, input: AnsibleImportInput | VmConfigImportInput): Promise<InventoryImportResult> {
  let candidates: ImportCandidate[];
  let skipped: SkippedEntry[];
  let warnings: InventoryImportResult['warnings'] = [];
  let ownsLabel: (key: string) => boolean;
  if (input.format === 'ansible') {
    const inventory = readAnsibleInventory(input.inventory, input.syntax);
    ({ candidates, skipped } = ansibleCandidates(inventory, input.environment));
    warnings = inventory.warnings.map((w) => ({ line: w.line, directive: w.directive, aliases: [], message: w.message }));
    ownsLabel = (key) => key.startsWith(GROUP_LABEL_PREFIX);
  } else {
    ({ candidates, skipped } = vmConfigCandidates(input.files));
    ownsLabel = (key) => key === ENV_LABEL;
  }
  const outcome = await cp.database.sql.begin((tx) => upsertImportedHosts(tx, candidates, ownsLabel));
  // Dashboards (BUS.md §10), after the commit; an import that changed nothing says nothing.
  if (outcome.created.length > 0 || outcome.updated.length > 0) markChanged(cp, 'hosts');
  return { created: outcome.created, updated: outcome.updated, unchanged: outcome.unchanged, skipped: [...skipped, ...outcome.skipped], warnings };
}
