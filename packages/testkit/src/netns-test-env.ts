import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';

/**
 * What a netns test made on the host, found by its name prefix, and taken down whatever state the
 * test left it in (afterAll, even after a failure): every process in its namespaces, the
 * namespaces, any veth left on the host, then the temp directory. Never anything without the prefix.
 */
export function netnsTestPrefix(): string {
  // 1 letter + 3 base-36 characters: unique per file run, and short enough for interface names.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `t${[...randomBytes(3)].map((b) => alphabet[b % 36]).join('')}`;
}

const ip = (args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });

export function netnsesWithPrefix(prefix: string): string[] {
  return ip(['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${prefix}-`));
}

export function linksWithPrefix(prefix: string): string[] {
  return ip(['-o', 'link', 'show'])
    .split('\n')
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}h`) || n.startsWith(`${prefix}n`));
}

/** Pids of processes whose process group is `pgid`, from /proc. */
export function processGroupMembers(pgid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export function cleanUpNetnsTest(prefix: string, tmpDir: string | undefined): void {
  for (const ns of netnsesWithPrefix(prefix)) {
    try {
      for (const pid of ip(['netns', 'pids', ns]).split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      ip(['netns', 'del', ns]);
    } catch (err) {
      console.warn(`cleanup: ${ns}: ${(err as Error).message}`);
    }
  }
  for (const link of linksWithPrefix(prefix)) {
    try {
      ip(['link', 'del', link]);
    } catch {
      // deleted with its peer
    }
  }
  for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/memory']) {
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).filter((n) => n.startsWith(`${prefix}-`))) {
      try {
        rmdirSync(`${base}/${name}`); // a cgroup goes by rmdir alone
      } catch (err) {
        console.warn(`cleanup: cgroup ${base}/${name}: ${(err as Error).message}`);
      }
    }
  }
  if (tmpDir && tmpDir.startsWith('/tmp/vmo-netns-')) rmSync(tmpDir, { recursive: true, force: true });
}

/** The cgroup directories (v2, v1 cpu, v1 memory) named `name` that exist. */
export function cgroupDirs(name: string): string[] {
  return ['/sys/fs/cgroup', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/memory'].map((b) => `${b}/${name}`).filter((d) => existsSync(d));
}
