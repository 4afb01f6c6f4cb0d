import { HostInput, isHostName } from '../host-input.ts';
import type { ImportCandidate, SkippedEntry } from './ansible-candidates.ts';
import { INVENTORY_LIMITS, inventoryTooLarge, invalidInventory } from './inventory-limits.ts';
import { asAppError } from './read-ansible-inventory.ts';
import { readYaml, type YNode } from './safe-yaml.ts';

/**
 * The per-environment config files teams keep (`environments/<env>/config.yml`), each with
 *
 * ```yaml
 * vms:
 *   web-1: { host: 10.0.1.11, ansible_user: deploy }
 *   db-1:  { host: db-1.internal, ansible_user: postgres, port: 2222 }
 * ```
 *
 * Every VM becomes host `<name>@<env>` (environment from the file's path, so the same VM name in
 * two environments is two hosts, never a collision) labelled `env=<env>`. Other keys of the file
 * and of a VM are the file's business and ignored. The file is ours to define, so its shape is
 * checked strictly (400 naming the file, line and field): a file or `vms` that is not a mapping, a
 * VM that is not a mapping, a field of the wrong type (`host: [a]`, `port: yes`), a VM named twice.
 * A VM whose values are of the right type but unusable (no `ansible_user`, a port out of range,
 * an address with spaces) is skipped with the reason, as the SSH import skips an alias.
 */
export const VM_CONFIG_PATH = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})\/config\.ya?ml$/;
export const ENV_LABEL = 'env';

export function vmConfigCandidates(files: Record<string, string>): { candidates: ImportCandidate[]; skipped: SkippedEntry[] } {
  const paths = Object.keys(files);
  if (paths.length > INVENTORY_LIMITS.files) throw inventoryTooLarge(`${paths.length} files is over the limit of ${INVENTORY_LIMITS.files}`, 'files');
  const bytes = paths.reduce((n, p) => n + Buffer.byteLength(files[p]!), 0);
  if (bytes > INVENTORY_LIMITS.bytes) throw inventoryTooLarge(`${bytes} bytes in all is over the limit of ${INVENTORY_LIMITS.bytes} bytes`, 'files');
  const candidates: ImportCandidate[] = [];
  const skipped: SkippedEntry[] = [];
  for (const path of paths) {
    const field = `files.${path}`;
    const m = VM_CONFIG_PATH.exec(path);
    if (!m) throw invalidInventory(field, 'must be named <environment>/config.yml (an environment is 1-63 letters, digits, "_", "." or "-", starting with a letter or digit)');
    const environment = m[1]!;
    const root = asAppError(field, () => readYaml(files[path]!));
    if (root === null) {
      skipped.push({ alias: path, file: path, reason: 'the file is empty: no vms' });
      continue;
    }
    if (root.kind !== 'map') throw invalidInventory(field, `must be a mapping with a "vms" key, not ${kindOf(root)}`, root.line);
    const vms = root.entries.get('s:vms');
    if (!vms || (vms.value.kind === 'scalar' && vms.value.value === null)) {
      skipped.push({ alias: path, file: path, reason: 'has no vms', line: vms?.key.line });
      continue;
    }
    if (root.duplicates.some((d) => d.key === 'vms')) throw invalidInventory(field, 'vms: is given twice', root.duplicates.find((d) => d.key === 'vms')!.line);
    if (vms.value.kind !== 'map') throw invalidInventory(`${field}`, `vms: must be a mapping of VM name to {host, ansible_user, port?}, not ${kindOf(vms.value)}`, vms.value.line);
    const twice = vms.value.duplicates[0];
    if (twice) throw invalidInventory(field, `vms.${twice.key}: is given twice`, twice.line);
    for (const { key, value } of vms.value.entries.values()) {
      if (key.kind !== 'scalar' || typeof key.value !== 'string') throw invalidInventory(field, `vms: a VM name must be a string, not ${kindOf(key)}`, key.line);
      const name = key.value;
      const result = toCandidate(field, name, environment, value);
      if ('reason' in result) skipped.push({ alias: name, file: path, line: result.line ?? key.line, reason: result.reason });
      else candidates.push({ ...result, file: path, line: key.line });
    }
  }
  return { candidates, skipped };
}

function toCandidate(field: string, name: string, environment: string, vm: YNode): Omit<ImportCandidate, 'file' | 'line'> | { reason: string; line?: number } {
  if (vm.kind !== 'map') throw invalidInventory(field, `vms.${name}: must be a mapping {host, ansible_user, port?}, not ${kindOf(vm)}`, vm.line);
  const get = (k: string) => {
    const e = vm.entries.get(`s:${k}`);
    return e && !(e.value.kind === 'scalar' && e.value.value === null) ? e.value : undefined;
  };
  const str = (k: string) => {
    const v = get(k);
    if (v === undefined) return undefined;
    if (v.kind !== 'scalar' || typeof v.value !== 'string') throw invalidInventory(field, `vms.${name}.${k}: must be a string, not ${kindOf(v)}`, v.line);
    return v.value;
  };
  const portOf = (k: string) => {
    const v = get(k);
    if (v === undefined) return undefined;
    if (v.kind === 'scalar' && typeof v.value === 'number' && Number.isInteger(v.value)) return { port: v.value, line: v.line };
    if (v.kind === 'scalar' && typeof v.value === 'string' && /^[0-9]+$/.test(v.value)) return { port: Number(v.value), line: v.line };
    throw invalidInventory(field, `vms.${name}.${k}: must be a port number, not ${kindOf(v)}`, v.line);
  };
  const host = str('host');
  const user = str('ansible_user');
  const port = portOf('port');
  const ansiblePort = portOf('ansible_port');
  if (!isHostName(name)) return { reason: 'not usable as a host name (1-63 letters, digits, "_", "." or "-", starting with a letter or digit)' };
  if (host === undefined) return { reason: 'has no host (the address to reach it at)' };
  if (user === undefined) return { reason: 'has no ansible_user (the user to log in as)' };
  if (port && ansiblePort && port.port !== ansiblePort.port) return { reason: `port ${port.port} and ansible_port ${ansiblePort.port} disagree`, line: ansiblePort.line };
  const checked = HostInput.safeParse({ name, environment, host, user, port: (port ?? ansiblePort)?.port ?? 22, labels: { [ENV_LABEL]: environment } });
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const shown = issue.path[0] === 'user' ? 'ansible_user' : issue.path.join('.');
    return { reason: `${shown}: ${issue.message}` };
  }
  const { host: h, user: u, port: p, labels } = checked.data;
  return { name, environment, host: h, user: u, port: p, labels };
}

function kindOf(n: YNode): string {
  if (n.kind === 'map') return 'a mapping';
  if (n.kind === 'seq') return 'a list';
  if (n.kind === 'opaque') return `a ${n.what}`;
  const v = n.value;
  return v === null ? 'null' : typeof v === 'string' ? `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}` : `${typeof v} ${String(v)}`;
}
