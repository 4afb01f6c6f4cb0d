import { HostInput, isHostName } from '../host-input.ts';
import type { ConnectionVar, ResolvedHost, VarValue } from './inventory-model.ts';
import { MAX_GROUPS_PER_HOST } from './inventory-model.ts';
import type { AnsibleInventory } from './read-ansible-inventory.ts';

/** A host an inventory import would create or update. */
export interface ImportCandidate {
  name: string;
  environment: string;
  host: string;
  user: string;
  port: number;
  /** The labels the import owns on this host (see `ownsLabel`). */
  labels: Record<string, string>;
  line?: number;
  file?: string;
}

/** An entry not imported, and why (the shape of the SSH import's `skipped`, plus the file). */
export interface SkippedEntry {
  alias: string;
  reason: string;
  line?: number;
  file?: string;
}

/**
 * Groups become labels `group.<name>=true` (a label per group: a host in web and prod carries both,
 * and the groups it is in through `children` too; `all` and `ungrouped` are not labels). A selector
 * then picks them as Ansible patterns would: `group.web`, `group.web,group.prod` (both),
 * `!group.canary`.
 */
export const GROUP_LABEL_PREFIX = 'group.';
export const groupLabel = (group: string) => `${GROUP_LABEL_PREFIX}${group}`;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;

/** Connection types that are SSH (what vmo runs jobs over on an inventory host). */
const SSH_CONNECTIONS = new Set(['ssh', 'smart', 'paramiko', 'paramiko_ssh', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh']);

/**
 * Each resolved host as vmo would reach it, the way Ansible's ssh connection would: address
 * `ansible_ssh_host`, else `ansible_host`, else the inventory name; user `ansible_ssh_user`, else
 * `ansible_user`; port `ansible_ssh_port`, else `ansible_port`, else 22 (for each pair the later
 * name wins, as in the ssh plugin's option list; a null is no value). What Ansible could not
 * be followed in is skipped with its reason: no user (Ansible would log in as whoever runs it),
 * a Jinja2 template (not rendered here), another connection type (local, winrm, docker…), a
 * value of the wrong kind, a name or group vmo cannot carry.
 */
export function ansibleCandidates(inventory: AnsibleInventory, environment: string): { candidates: ImportCandidate[]; skipped: SkippedEntry[] } {
  const candidates: ImportCandidate[] = [];
  const skipped: SkippedEntry[] = [];
  for (const h of inventory.hosts) {
    const result = toCandidate(h, environment);
    if ('reason' in result) skipped.push({ alias: h.name, reason: result.reason, line: result.line ?? h.line });
    else candidates.push(result);
  }
  return { candidates, skipped };
}

function toCandidate(h: ResolvedHost, environment: string): ImportCandidate | { reason: string; line?: number } {
  if (h.tooManyGroups) return { reason: `is in more than ${MAX_GROUPS_PER_HOST} groups; a host carries at most 64 labels` };
  if (!isHostName(h.name)) return { reason: 'not usable as a host name (1-63 letters, digits, "_", "." or "-", starting with a letter or digit)' };
  const pick = (...names: ConnectionVar[]): [ConnectionVar, VarValue] | undefined => {
    let found: [ConnectionVar, VarValue] | undefined;
    for (const n of names) {
      const v = h.vars[n];
      if (v && v.value !== null && v.value !== undefined) found = [n, v];
    }
    return found;
  };
  const connection = pick('ansible_connection');
  if (connection && !(typeof connection[1].value === 'string' && SSH_CONNECTIONS.has(connection[1].value))) {
    return { reason: `ansible_connection ${show(connection[1].value)} is not SSH (line ${connection[1].line})`, line: connection[1].line };
  }
  const address = pick('ansible_host', 'ansible_ssh_host');
  const host = address ? textOf(address) : h.name;
  if (typeof host !== 'string') return host;
  const userVar = pick('ansible_user', 'ansible_ssh_user');
  if (!userVar) return { reason: 'no ansible_user applies to it (Ansible would log in as whoever runs it); set ansible_user for it or its group, or create the host with POST /v1/hosts' };
  const user = textOf(userVar);
  if (typeof user !== 'string') return user;
  const portVar = pick('ansible_port', 'ansible_ssh_port');
  let port = 22;
  if (portVar) {
    const [name, { value, line }] = portVar;
    // The ssh plugin's port option is an int: "2222" converts, 22.5 or "ssh" do not.
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*[0-9]+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 65535) return { reason: `${name} ${show(value)} is not a port number from 1 to 65535 (line ${line})`, line };
    port = n;
  }
  const labels: Record<string, string> = {};
  for (const g of h.groups) {
    const key = groupLabel(g);
    if (!LABEL_KEY.test(key)) return { reason: `its group ${JSON.stringify(g)} cannot be a label ("${key}": label keys are 1-63 letters, digits, "_", ".", "/" or "-")` };
    labels[key] = 'true';
  }
  const checked = HostInput.safeParse({ name: h.name, environment, host, user, port, labels });
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const from = issue.path[0] === 'host' && address ? ` (${address[0]}, line ${address[1].line})` : issue.path[0] === 'user' ? ` (${userVar[0]}, line ${userVar[1].line})` : '';
    return { reason: `${issue.path.join('.')}${from}: ${issue.message}` };
  }
  return { name: h.name, environment, host, user, port, labels, line: h.line };
}

function textOf([name, { value, line }]: [ConnectionVar, VarValue]): string | { reason: string; line: number } {
  if (typeof value !== 'string') return { reason: `${name} ${show(value)} is not a string (line ${line})`, line };
  if (/\{\{|\{%/.test(value)) return { reason: `${name} ${show(value)} is a Jinja2 template, which an import does not render (line ${line})`, line };
  return value;
}

const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};
