import { expandHostPattern, HostPatternError, TooManyHosts } from './host-pattern.ts';
import { INVENTORY_LIMITS, inventoryTooLarge } from './inventory-limits.ts';
import { InventoryError, InventoryModel } from './inventory-model.ts';
import { parseIniValue } from './python-literal.ts';
import { shlexSplit } from './shlex-split.ts';

/**
 * An INI inventory read as Ansible's `ini` inventory plugin reads it
 * (ansible/plugins/inventory/ini.py, ansible-core 2.14): lines before any section are hosts of
 * `ungrouped`; `[group]` lists hosts (`pattern key=value …`, cut by shlex, values through
 * Python's literal_eval), `[group:vars]` sets `key=value` (split at the first `=`, the value
 * through literal_eval: `22 # ssh` is 22, `10.0.0.1 # old` stays that whole text, as in Ansible),
 * `[group:children]` names child groups, which may be declared further down; `[x:vars]` for a
 * group never declared, or a child never declared, is an error, as in Ansible.
 */
export function parseIniInventory(text: string): InventoryModel {
  const inv = new InventoryModel();
  const pending = new Map<string, { line: number; state: 'vars' | 'children'; parents: string[] }>();
  let group = 'ungrouped';
  let state: 'hosts' | 'vars' | 'children' = 'hosts';
  const lines = text.split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (!line || line[0] === '#' || line[0] === ';') continue;
    const section = SECTION.exec(line);
    if (section) {
      group = section[1]!;
      const tag = section[2] ?? 'hosts';
      if (tag !== 'hosts' && tag !== 'children' && tag !== 'vars') throw new InventoryError(`Section [${section[1]}:${tag}] has unknown type: ${tag}`, lineNo);
      state = tag;
      if (!inv.hasGroup(group)) {
        // [g] or [g:children] declares g; [g:vars] alone does not (checked at the end).
        if (state === 'vars' && !pending.has(group)) pending.set(group, { line: lineNo, state: 'vars', parents: [] });
        inv.addGroup(group);
      }
      const waiting = pending.get(group);
      if (waiting && state !== 'vars') {
        if (waiting.state === 'children') addPendingChildren(inv, group, pending);
        else pending.delete(group);
      }
      continue;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      throw new InventoryError(`Invalid section entry: '${line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters`, lineNo);
    }
    if (state === 'hosts') hostLine(inv, line, group, lineNo);
    else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) throw new InventoryError(`Expected key=value, got: ${line}`, lineNo);
      inv.setVariable(group, line.slice(0, eq).trim(), parseIniValue(line.slice(eq + 1).trim()), lineNo);
    } else {
      const m = GROUP_NAME.exec(line);
      if (!m) throw new InventoryError(`Expected group name, got: ${line}`, lineNo);
      const child = m[1]!;
      if (!inv.hasGroup(child)) {
        const waiting = pending.get(child);
        if (waiting) waiting.parents.push(group);
        else pending.set(child, { line: lineNo, state: 'children', parents: [group] });
      } else inv.addChild(group, child, lineNo);
    }
  }
  for (const [name, decl] of pending) {
    if (decl.state === 'vars') throw new InventoryError(`Section [${name}:vars] not valid for undefined group: ${name}`, decl.line);
    throw new InventoryError(`Section [${decl.parents[decl.parents.length - 1]}:children] includes undefined group: ${name}`, decl.line);
  }
  return inv;
}

// Ansible's own patterns (ini.py _compile_patterns).
const SECTION = /^\[([^:\]\s]+)(?::([\p{L}\p{N}_]+))?\]\s*(?:#.*)?$/u;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

function addPendingChildren(inv: InventoryModel, group: string, pending: Map<string, { line: number; state: string; parents: string[] }>): void {
  for (const parent of pending.get(group)!.parents) {
    inv.addChild(parent, group);
    if (pending.get(parent)?.state === 'children') addPendingChildren(inv, parent, pending);
  }
  pending.delete(group);
}

function hostLine(inv: InventoryModel, line: string, group: string, lineNo: number): void {
  let tokens: string[];
  try {
    tokens = shlexSplit(line);
  } catch (err) {
    throw new InventoryError(`Error parsing host definition '${line}': ${(err as Error).message}`, lineNo);
  }
  if (tokens.length === 0) throw new InventoryError(`Error parsing host definition '${line}'`, lineNo);
  let expanded: { names: string[]; port: number | null };
  try {
    expanded = expandHostPattern(tokens[0]!, INVENTORY_LIMITS.hosts);
  } catch (err) {
    if (err instanceof TooManyHosts) throw inventoryTooLarge(`line ${lineNo}: ${tokens[0]} ${err.message}; at most ${INVENTORY_LIMITS.hosts} hosts`);
    if (err instanceof HostPatternError) throw new InventoryError(`${tokens[0]}: ${err.message}`, lineNo);
    throw err;
  }
  if (tokens[0]!.trim().endsWith(':') && expanded.port === null) {
    throw new InventoryError(`Invalid host pattern '${tokens[0]}' supplied, ending in ':' is not allowed, this character is reserved to provide a port.`, lineNo);
  }
  if (expanded.names.some((n) => n.trim() === '---')) throw new InventoryError(`Invalid host pattern '${tokens[0]}' supplied, '---' is normally a sign this is a YAML file.`, lineNo);
  const vars: [string, unknown][] = [];
  for (const t of tokens.slice(1)) {
    const eq = t.indexOf('=');
    if (eq < 0) throw new InventoryError(`Expected key=value host variable assignment, got: ${t}`, lineNo);
    vars.push([t.slice(0, eq), parseIniValue(t.slice(eq + 1))]);
  }
  for (const name of expanded.names) {
    inv.addHost(name, group, expanded.port, lineNo);
    for (const [k, v] of vars) inv.setVariable(name, k, v, lineNo);
  }
}
