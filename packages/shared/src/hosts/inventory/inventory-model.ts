import { INVENTORY_LIMITS, inventoryTooLarge } from './inventory-limits.ts';

/**
 * The part of Ansible's InventoryData (ansible/inventory/{data,group,host}.py) an import needs:
 * groups with children, hosts with their groups, and variables on both, built in the order the
 * inventory file gives them, then resolved per host the way `ansible-inventory --list` reports
 * it: every group the host is in through children, and its variables merged with Ansible's
 * precedence (`all`, then its groups from the shallowest to the deepest, ties by
 * `ansible_group_priority` then name, then the host's own; a later write of a host variable
 * wins).
 *
 * Only the variables an import reads are kept (`CONNECTION_VARS`); each remembers where it was set,
 * so a host skipped for a bad `ansible_port` can be told which line gave it.
 */
export const CONNECTION_VARS = ['ansible_host', 'ansible_ssh_host', 'ansible_user', 'ansible_ssh_user', 'ansible_port', 'ansible_ssh_port', 'ansible_connection'] as const;
export type ConnectionVar = (typeof CONNECTION_VARS)[number];
const KEPT = new Set<string>(CONNECTION_VARS);

export interface VarValue {
  value: unknown;
  /** 1-based line in the inventory where the value was set. */
  line: number;
}

/** An inventory Ansible itself refuses (the message is Ansible's where it has one). */
export class InventoryError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

interface Group {
  name: string;
  vars: Map<string, VarValue>;
  children: Set<string>;
  parents: Set<string>;
  hosts: Set<string>;
  priority: number;
}

interface Host {
  name: string;
  vars: Map<string, VarValue>;
  groups: Set<string>;
  line: number;
}

export interface ResolvedHost {
  name: string;
  /** Every group the host is in, directly or through children, without `all` and `ungrouped`; sorted. */
  groups: string[];
  vars: Partial<Record<ConnectionVar, VarValue>>;
  /** Where the host was first named. */
  line: number;
  /** In more groups than a host can carry labels for: `groups` and `vars` are then not filled in. */
  tooManyGroups: boolean;
}

/** More groups than this and the host cannot be imported (64 labels at most): its resolution stops. */
export const MAX_GROUPS_PER_HOST = 64;

export class InventoryModel {
  private readonly groups = new Map<string, Group>();
  private readonly hosts = new Map<string, Host>();
  private memberships = 0;

  constructor() {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  hasGroup(name: string): boolean {
    return this.groups.has(name);
  }

  addGroup(name: string): void {
    if (this.groups.has(name)) return;
    if (this.groups.size >= INVENTORY_LIMITS.groups) throw inventoryTooLarge(`more than ${INVENTORY_LIMITS.groups} groups`);
    this.groups.set(name, { name, vars: new Map(), children: new Set(), parents: new Set(), hosts: new Set(), priority: 1 });
  }

  /** `add_host(host, group, port)`: the port (from `host:port`) is set only when the host is new. */
  addHost(name: string, group: string, port: number | null, line: number): void {
    if (!name) throw new InventoryError(`Invalid empty host name provided: ${name}`, line);
    const g = this.groups.get(group);
    if (!g) throw new InventoryError(`Could not find group ${group} in inventory`, line);
    let host = this.hosts.get(name);
    if (!host) {
      if (this.hosts.size >= INVENTORY_LIMITS.hosts) throw inventoryTooLarge(`more than ${INVENTORY_LIMITS.hosts} hosts`);
      host = { name, vars: new Map(), groups: new Set(), line };
      this.hosts.set(name, host);
      if (port !== null) host.vars.set('ansible_port', { value: port, line });
    }
    if (!g.hosts.has(name)) {
      if (++this.memberships > INVENTORY_LIMITS.memberships) throw inventoryTooLarge(`more than ${INVENTORY_LIMITS.memberships} host-in-group entries`);
      g.hosts.add(name);
      host.groups.add(group);
    }
  }

  /** `add_child(group, child)` for a child group; a loop is refused as Ansible refuses it. */
  addChild(parent: string, child: string, line?: number): void {
    const p = this.groups.get(parent);
    const c = this.groups.get(child);
    if (!p) throw new InventoryError(`${parent} is not a known group`, line);
    if (!c) throw new InventoryError(`${child} is not a known host nor group`, line);
    if (p === c) throw new InventoryError("can't add group to itself", line);
    if (p.children.has(child)) return;
    if (this.ancestors(parent).has(child)) throw new InventoryError(`Adding group '${child}' as child to '${parent}' creates a recursive dependency loop.`, line);
    p.children.add(child);
    c.parents.add(parent);
  }

  /** `add_child(group, name)` as the YAML plugin calls it: a group, or else a host of that name. */
  addChildOrHost(parent: string, child: string, line: number): void {
    if (this.groups.has(child) || !this.hosts.has(child)) return this.addChild(parent, child, line);
    if (!this.groups.has(parent)) throw new InventoryError(`${parent} is not a known group`, line);
    this.addHost(child, parent, null, line);
  }

  /** `set_variable` on a group or a host; `ansible_group_priority` sets the group's priority. */
  setVariable(entity: string, key: string, value: unknown, line: number): void {
    const group = this.groups.get(entity);
    if (group && key === 'ansible_group_priority') {
      group.priority = pythonInt(value, line);
      return;
    }
    const target = group ?? this.hosts.get(entity);
    if (!target) throw new InventoryError(`Could not identify group or host named ${entity}`, line);
    if (KEPT.has(key)) target.vars.set(key, { value, line });
  }

  private ancestors(name: string): Set<string> {
    const seen = new Set<string>();
    const stack = [name];
    while (stack.length > 0) {
      for (const p of this.groups.get(stack.pop()!)!.parents) {
        if (!seen.has(p)) {
          seen.add(p);
          stack.push(p);
        }
      }
    }
    return seen;
  }

  /**
   * Ansible's reconcile step (every group without a parent hangs from `all`; a host in a named
   * group is not also `ungrouped`; a host in none is), then each host in file order.
   */
  resolve(): ResolvedHost[] {
    for (const g of this.groups.values()) if (g.name !== 'all' && g.parents.size === 0) this.addChild('all', g.name);
    const ungrouped = this.groups.get('ungrouped')!;
    const depth = this.depths();
    const ancestorsOf = new Map<string, Set<string>>();
    const groupAncestors = (name: string) => {
      let a = ancestorsOf.get(name);
      if (!a) ancestorsOf.set(name, (a = this.ancestors(name)));
      return a;
    };
    const all = this.groups.get('all')!;
    const resolved: ResolvedHost[] = [];
    for (const host of this.hosts.values()) {
      const named = [...host.groups].filter((g) => g !== 'all' && g !== 'ungrouped');
      if (named.length > 0 && host.groups.has('ungrouped')) {
        host.groups.delete('ungrouped');
        ungrouped.hosts.delete(host.name);
      }
      if (named.length === 0 && !host.groups.has('ungrouped')) {
        host.groups.add('ungrouped');
        ungrouped.hosts.add(host.name);
      }
      const member = new Set<string>();
      for (const g of host.groups) {
        member.add(g);
        for (const a of groupAncestors(g)) member.add(a);
        // all, ungrouped and the labels: past this the host is skipped, so the work stops here.
        if (member.size > MAX_GROUPS_PER_HOST + 2) break;
      }
      member.delete('all');
      if (member.size > MAX_GROUPS_PER_HOST + 1) {
        resolved.push({ name: host.name, groups: [], vars: {}, line: host.line, tooManyGroups: true });
        continue;
      }
      const ordered = [...member].map((n) => this.groups.get(n)!).sort((a, b) => depth.get(a.name)! - depth.get(b.name)! || a.priority - b.priority || pyCompare(a.name, b.name));
      const vars: Partial<Record<ConnectionVar, VarValue>> = {};
      for (const source of [all, ...ordered, host]) for (const [k, v] of source.vars) vars[k as ConnectionVar] = v;
      resolved.push({ name: host.name, groups: [...member].filter((g) => g !== 'ungrouped').sort(pyCompare), vars, line: host.line, tooManyGroups: false });
    }
    return resolved;
  }

  /** Each group's depth: its longest path from `all` (Ansible raises depths as edges are added). */
  private depths(): Map<string, number> {
    const depth = new Map<string, number>([['all', 0]]);
    // Kahn's order over the (acyclic) child edges from `all`.
    const pending = new Map<string, number>();
    for (const g of this.groups.values()) pending.set(g.name, g.parents.size);
    const ready = ['all'];
    while (ready.length > 0) {
      const g = this.groups.get(ready.pop()!)!;
      const d = depth.get(g.name)!;
      for (const c of g.children) {
        depth.set(c, Math.max(depth.get(c) ?? 0, d + 1));
        const left = pending.get(c)! - 1;
        pending.set(c, left);
        if (left === 0) ready.push(c);
      }
    }
    return depth;
  }
}

/** Python compares strings by code point; JavaScript's `<` compares UTF-16 units. */
export function pyCompare(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
  }
  return x.length - y.length;
}

/** Python's int() of a priority: an int, or a string of digits. */
function pythonInt(value: unknown, line: number): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && /^\s*[-+]?[0-9](?:_?[0-9])*\s*$/.test(value)) return Number(value.replace(/[\s_]/g, ''));
  throw new InventoryError(`ansible_group_priority: ${JSON.stringify(value)} is not an integer`, line);
}
