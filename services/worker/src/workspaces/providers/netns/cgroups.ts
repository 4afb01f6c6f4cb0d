import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A template's `cpuQuota` (CPUs) and `memoryMiB`, as a cgroup the sandbox is started in (named as the
 * namespace). cgroup v2 when /sys/fs/cgroup is the unified hierarchy (its root must delegate the
 * cpu and memory controllers: cgroup.subtree_control), else v1's `cpu` and `memory` hierarchies.
 * Limits are written at every start, so a changed template applies to a running sandbox too. What
 * the host cannot enforce is said in the operation's log, never silently skipped.
 */
export interface Limits {
  cpuQuota?: number;
  memoryMiB?: number;
}

const ROOT = '/sys/fs/cgroup';
const PERIOD_US = 100_000;
const exists = (p: string) => access(p).then(() => true, () => false);

/** Creates/updates the cgroup(s) and answers the cgroup.procs files the sandbox must join. */
export async function prepareCgroups(name: string, limits: Limits, log: (line: string) => void): Promise<string[]> {
  if (limits.cpuQuota === undefined && limits.memoryMiB === undefined) return [];
  const quota = limits.cpuQuota !== undefined ? Math.max(1000, Math.round(limits.cpuQuota * PERIOD_US)) : undefined;
  const bytes = limits.memoryMiB !== undefined ? limits.memoryMiB * 1024 * 1024 : undefined;
  if (await exists(join(ROOT, 'cgroup.controllers'))) {
    const delegated = (await readFile(join(ROOT, 'cgroup.subtree_control'), 'utf8')).split(/\s+/);
    const dir = join(ROOT, name);
    await mkdir(dir, { recursive: true });
    if (quota !== undefined) {
      if (delegated.includes('cpu')) await writeFile(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
      else log('note: cpuQuota not enforced: the cgroup root does not delegate the cpu controller');
    }
    if (bytes !== undefined) {
      if (delegated.includes('memory')) await writeFile(join(dir, 'memory.max'), String(bytes));
      else log('note: memoryMiB not enforced: the cgroup root does not delegate the memory controller');
    }
    return [join(dir, 'cgroup.procs')];
  }
  const procs: string[] = [];
  if (quota !== undefined) {
    if (await exists(join(ROOT, 'cpu', 'cpu.cfs_quota_us'))) {
      const dir = join(ROOT, 'cpu', name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      await writeFile(join(dir, 'cpu.cfs_quota_us'), String(quota));
      procs.push(join(dir, 'cgroup.procs'));
    } else log('note: cpuQuota not enforced: no cgroup cpu controller on this host');
  }
  if (bytes !== undefined) {
    if (await exists(join(ROOT, 'memory', 'memory.limit_in_bytes'))) {
      const dir = join(ROOT, 'memory', name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'memory.limit_in_bytes'), String(bytes));
      procs.push(join(dir, 'cgroup.procs'));
    } else log('note: memoryMiB not enforced: no cgroup memory controller on this host');
  }
  return procs;
}

/** Removes the workspace's cgroup(s), once nothing runs in them (after the sandbox is stopped). */
export async function removeCgroups(name: string): Promise<void> {
  for (const dir of [join(ROOT, name), join(ROOT, 'cpu', name), join(ROOT, 'memory', name)]) {
    // LOUD: rmdir, never a recursive rm: a cgroup directory is removed by rmdir alone.
    await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
