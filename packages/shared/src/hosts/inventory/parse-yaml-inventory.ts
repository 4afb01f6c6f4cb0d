import { expandHostPattern, HostPatternError, TooManyHosts } from './host-pattern.ts';
import { INVENTORY_LIMITS, inventoryTooLarge } from './inventory-limits.ts';
import { InventoryError, InventoryModel } from './inventory-model.ts';
import { Opaque } from './python-literal.ts';
import type { YNode } from './safe-yaml.ts';

/**
 * A YAML inventory read as Ansible's `yaml` inventory plugin reads it
 * (ansible/plugins/inventory/yaml.py, ansible-core 2.14): each top-level key is a group whose
 * value may have `hosts` (pattern → variables), `vars` and `children` (group → the same shape,
 * recursively); a string where a mapping is expected stands for a one-entry mapping; anything
 * else Ansible only warns about is reported in `warnings` and skipped, as Ansible skips it.
 */
export interface YamlInventoryWarning {
  line: number;
  /** The key skipped. */
  directive: string;
  message: string;
}

export function interpretYamlInventory(root: YNode | null): { model: InventoryModel; warnings: YamlInventoryWarning[] } {
  if (root === null || isFalsy(root)) throw new InventoryError('Parsed empty YAML file', root?.line);
  if (root.kind !== 'map') throw new InventoryError(`YAML inventory has invalid structure, it should be a dictionary, got: ${pyType(root)}`, root.line);
  const plugin = root.entries.get('s:plugin');
  if (plugin && !isFalsy(plugin.value)) {
    throw new InventoryError('Plugin configuration YAML file, not YAML inventory (an inventory plugin runs code against a cloud or a service; export its result with ansible-inventory --list -y and import that)', plugin.key.line);
  }
  const model = new InventoryModel();
  const warnings: YamlInventoryWarning[] = [];

  const parseGroup = (nameNode: YNode, data: YNode): string => {
    const name = text(nameNode);
    if (data.kind !== 'map' && !isNull(data)) {
      warnings.push({ line: nameNode.line, directive: display(nameNode), message: `Skipping '${display(nameNode)}' as this is not a valid group definition` });
      return name ?? display(nameNode);
    }
    if (name === undefined) throw new InventoryError(`Unable to add group ${display(nameNode)}: Invalid group name supplied, expected a string but got ${pyType(nameNode)} for ${display(nameNode)}`, nameNode.line);
    if (name === '') throw new InventoryError('Unable to add group : Invalid empty/false group name provided: ', nameNode.line);
    model.addGroup(name);
    if (data.kind !== 'map') return name;
    const section = (key: string) => {
      const entry = data.entries.get(`s:${key}`);
      if (!entry) return undefined;
      let value = entry.value;
      // "convert strings to dicts as these are allowed"
      if (value.kind === 'scalar' && typeof value.value === 'string') {
        value = { kind: 'map', line: value.line, entries: new Map([[`s:${value.value}`, { key: value, value: { kind: 'scalar', line: value.line, value: null } }]]), duplicates: [] };
        entry.value = value;
      }
      if (value.kind !== 'map' && !isNull(value)) throw new InventoryError(`Invalid "${key}" entry for "${name}" group, requires a dictionary, found "${pyType(value)}" instead.`, value.line);
      return value;
    };
    section('vars');
    section('children');
    section('hosts');
    for (const { key, value } of data.entries.values()) {
      const k = display(key);
      if (value.kind !== 'map') {
        if (!isNull(value)) warnings.push({ line: key.line, directive: k, message: `Skipping key (${k}) in group (${name}) as it is not a mapping, it is a ${pyType(value)}` });
        continue;
      }
      if (k === 'vars' && key.kind === 'scalar') {
        for (const v of value.entries.values()) {
          const varName = text(v.key);
          if (varName !== undefined) model.setVariable(name, varName, plainValue(v.value), v.key.line);
        }
      } else if (k === 'children' && key.kind === 'scalar') {
        for (const child of value.entries.values()) {
          const childName = parseGroup(child.key, child.value);
          model.addChildOrHost(name, childName, child.key.line);
        }
      } else if (k === 'hosts' && key.kind === 'scalar') {
        for (const h of value.entries.values()) {
          const pattern = text(h.key);
          if (pattern === undefined) throw new InventoryError(`Host pattern ${display(h.key)} must be a string. Enclose integers/floats in quotation marks.`, h.key.line);
          let expanded: { names: string[]; port: number | null };
          try {
            expanded = expandHostPattern(pattern, INVENTORY_LIMITS.hosts);
          } catch (err) {
            if (err instanceof TooManyHosts) throw inventoryTooLarge(`line ${h.key.line}: ${pattern} ${err.message}; at most ${INVENTORY_LIMITS.hosts} hosts`);
            if (err instanceof HostPatternError) throw new InventoryError(`${pattern}: ${err.message}`, h.key.line);
            throw err;
          }
          // `group_data[key][host_pattern] or {}`: any falsy value is no variables.
          const vars = isFalsy(h.value) ? undefined : h.value;
          if (vars && vars.kind !== 'map') throw new InventoryError(`Invalid data from file, expected dictionary and got: ${display(vars)}`, vars.line);
          for (const hostName of expanded.names) {
            model.addHost(hostName, name, expanded.port, h.key.line);
            if (vars && vars.kind === 'map') {
              for (const v of vars.entries.values()) {
                const varName = text(v.key);
                if (varName !== undefined) model.setVariable(hostName, varName, plainValue(v.value), v.key.line);
              }
            }
          }
        }
      } else {
        warnings.push({ line: key.line, directive: k, message: `Skipping unexpected key (${k}) in group (${name}), only "vars", "children" and "hosts" are valid` });
      }
    }
    return name;
  };

  for (const { key, value } of root.entries.values()) parseGroup(key, value);
  return { model, warnings };
}

const text = (n: YNode): string | undefined => (n.kind === 'scalar' && typeof n.value === 'string' ? n.value : undefined);
const isNull = (n: YNode) => n.kind === 'scalar' && n.value === null;

/** Python truthiness of a YAML value. */
function isFalsy(n: YNode): boolean {
  if (n.kind === 'scalar') return n.value === null || n.value === '' || n.value === 0 || n.value === false;
  if (n.kind === 'map') return n.entries.size === 0;
  if (n.kind === 'seq') return n.items.length === 0;
  return false;
}

function pyType(n: YNode): string {
  if (n.kind === 'map') return "<class 'dict'>";
  if (n.kind === 'seq') return "<class 'list'>";
  if (n.kind === 'opaque') return n.what;
  const v = n.value;
  return `<class '${v === null ? 'NoneType' : typeof v === 'string' ? 'str' : typeof v === 'boolean' ? 'bool' : Number.isInteger(v) ? 'int' : 'float'}'>`;
}

function display(n: YNode): string {
  if (n.kind === 'scalar') return String(n.value);
  return n.kind === 'opaque' ? n.what : n.kind;
}

/** What a variable's value is to the import: a scalar as it is, anything else opaque (no host field takes it). */
function plainValue(n: YNode): unknown {
  if (n.kind === 'scalar') return n.value;
  if (n.kind === 'opaque') return new Opaque(n.what);
  return new Opaque(n.kind === 'map' ? 'mapping' : 'list');
}
