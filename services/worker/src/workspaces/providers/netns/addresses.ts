import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A workspace's /30 out of the pool 10.231.0.0/16 (16384 of them): subnet n has the host end at
 * 10.231.(n>>6).((n&63)*4+1) and the namespace end at …+2.
 *
 * Allocation is by lease files, one per subnet (`<leaseDir>/<n>`, holding the workspace id),
 * created with O_EXCL: two workers starting two workspaces on one host at once cannot take the same
 * subnet, and the lease outlives any worker. A workspace keeps its lease while it exists (a stable
 * address across stops); `absent` releases it. Addresses some other interface of the host already
 * has are skipped, so a pool that overlaps something else on the host fails loudly instead of
 * routing into it.
 */
export const POOL_SIZE = 16384;

export interface Subnet {
  index: number;
  hostAddress: string;
  nsAddress: string;
}

export function subnetOf(index: number, poolPrefix = '10.231'): Subnet {
  if (!Number.isInteger(index) || index < 0 || index >= POOL_SIZE) throw new Error(`netns: subnet index ${index} out of range`);
  const third = index >> 6;
  const base = (index & 63) * 4;
  return { index, hostAddress: `${poolPrefix}.${third}.${base + 1}`, nsAddress: `${poolPrefix}.${third}.${base + 2}` };
}

/** The lease this workspace holds (its index), or undefined. */
export async function findLease(leaseDir: string, workspaceId: string, hint?: number): Promise<number | undefined> {
  if (hint !== undefined && (await leaseHolder(leaseDir, hint)) === workspaceId) return hint;
  let names: string[];
  try {
    names = await readdir(leaseDir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    if ((await leaseHolder(leaseDir, Number(name))) === workspaceId) return Number(name);
  }
  return undefined;
}

async function leaseHolder(leaseDir: string, index: number): Promise<string | undefined> {
  try {
    return (await readFile(join(leaseDir, String(index)), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** This workspace's subnet: its lease, or the lowest free one (O_EXCL), avoiding addresses in use. */
export async function leaseSubnet(leaseDir: string, workspaceId: string, inUse: Set<string>, opts: { hint?: number; poolPrefix?: string } = {}): Promise<Subnet> {
  await mkdir(leaseDir, { recursive: true, mode: 0o700 });
  const held = await findLease(leaseDir, workspaceId, opts.hint);
  if (held !== undefined) return subnetOf(held, opts.poolPrefix);
  for (let index = 0; index < POOL_SIZE; index++) {
    const subnet = subnetOf(index, opts.poolPrefix);
    if (inUse.has(subnet.hostAddress) || inUse.has(subnet.nsAddress)) continue;
    try {
      const fh = await open(join(leaseDir, String(index)), 'wx', 0o600);
      await fh.writeFile(`${workspaceId}\n`);
      await fh.close();
      return subnet;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
  }
  throw new Error(`netns: every /30 of ${opts.poolPrefix ?? '10.231'}.0.0/16 is leased (${leaseDir})`);
}

export async function releaseLease(leaseDir: string, workspaceId: string): Promise<void> {
  const held = await findLease(leaseDir, workspaceId);
  if (held !== undefined) await rm(join(leaseDir, String(held)), { force: true });
}
