import { AppError } from '../../errors/app-error.ts';
import { INVENTORY_LIMITS, inventoryTooLarge, invalidInventory } from './inventory-limits.ts';
import { InventoryError, type ResolvedHost } from './inventory-model.ts';
import { parseIniInventory } from './parse-ini-inventory.ts';
import { interpretYamlInventory, type YamlInventoryWarning } from './parse-yaml-inventory.ts';
import { readYaml, YamlRefusal } from './safe-yaml.ts';

export type InventorySyntax = 'ini' | 'yaml';

export interface AnsibleInventory {
  syntax: InventorySyntax;
  hosts: ResolvedHost[];
  /** What Ansible only warns about (and skips): a group key that is not a mapping, an unknown key. */
  warnings: YamlInventoryWarning[];
}

/**
 * An Ansible inventory's hosts with their groups and connection variables, as
 * `ansible-inventory -i <file> --list` reports them. `syntax` unset: as Ansible does for a file
 * without a telling extension, YAML first, then INI; when both refuse, the answer gives both reasons.
 * Errors are 400 `invalid_inventory` naming `field` and the line, or 413 past the limits.
 */
export function readAnsibleInventory(text: string, syntax?: InventorySyntax, field = 'inventory'): AnsibleInventory {
  const bytes = Buffer.byteLength(text);
  if (bytes > INVENTORY_LIMITS.bytes) throw inventoryTooLarge(`${bytes} bytes is over the limit of ${INVENTORY_LIMITS.bytes} bytes`, field);
  if (syntax === 'ini') return { syntax, hosts: asAppError(field, () => parseIniInventory(text).resolve()), warnings: [] };
  if (syntax === 'yaml') return { syntax, ...yaml(text, field) };
  let yamlError: AppError;
  try {
    return { syntax: 'yaml', ...yaml(text, field) };
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 400) throw err;
    yamlError = err;
  }
  try {
    return { syntax: 'ini', hosts: asAppError(field, () => parseIniInventory(text).resolve()), warnings: [] };
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 400) throw err;
    const strip = (e: AppError) => e.message.slice(field.length).replace(/^ /, '');
    throw invalidInventory(field, `neither a YAML inventory (${strip(yamlError)}) nor an INI one (${strip(err)}); give "syntax" to see only one`);
  }
}

function yaml(text: string, field: string): Omit<AnsibleInventory, 'syntax'> {
  return asAppError(field, () => {
    const { model, warnings } = interpretYamlInventory(readYaml(text));
    return { hosts: model.resolve(), warnings };
  });
}

/** Ansible's refusals and the YAML reader's as the API's errors, naming the field and line. */
export function asAppError<T>(field: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof YamlRefusal) {
      if (err.tooLarge) throw inventoryTooLarge(`${err.line === undefined ? '' : `line ${err.line}: `}${err.message}`, field);
      throw invalidInventory(field, err.message, err.line);
    }
    if (err instanceof InventoryError) throw invalidInventory(field, err.message, err.line);
    throw err;
  }
}
