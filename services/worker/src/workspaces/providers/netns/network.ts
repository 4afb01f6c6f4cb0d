import type { NetnsNames } from './names.ts';
import type { Subnet } from './addresses.ts';
import { run } from './run.ts';

/**
 * The namespace and its veth pair, with iproute2. Every step checks first and creates only what is
 * missing, so a converge interrupted anywhere (a worker killed between `ip link add` and moving the
 * peer, say) is finished by the next one rather than failing on "File exists".
 */

export async function netnsExists(name: string, signal?: AbortSignal): Promise<boolean> {
  const out = await run('ip', ['netns', 'list'], { signal });
  return out.split('\n').some((line) => line.split(' ')[0] === name);
}

async function linkExists(name: string, netns: string | undefined, signal?: AbortSignal): Promise<boolean> {
  const args = netns ? ['-n', netns, '-o', 'link', 'show'] : ['-o', 'link', 'show'];
  const out = await run('ip', args, { signal });
  // "3: vmohabc@if2: <…>" (the peer's index after "@").
  return out.split('\n').some((line) => line.split(': ')[1]?.split('@')[0] === name);
}

/** Every IPv4 address the host's interfaces have (to keep the pool off them). */
export async function hostAddresses(signal?: AbortSignal): Promise<Set<string>> {
  const out = await run('ip', ['-o', '-4', 'addr', 'show'], { signal });
  const found = new Set<string>();
  for (const m of out.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\//g)) found.add(m[1]!);
  return found;
}

/** The IPv4 address an interface has on the host, if it exists. */
export async function addressOf(link: string, signal?: AbortSignal): Promise<string | undefined> {
  if (!(await linkExists(link, undefined, signal))) return undefined;
  const out = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', link], { signal });
  return /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
}

export async function ensureNetwork(names: NetnsNames, subnet: Subnet, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
  if (!(await netnsExists(names.netns, signal))) {
    await run('ip', ['netns', 'add', names.netns], { signal });
    log(`created network namespace ${names.netns}`);
  }
  const hostEnd = await linkExists(names.vethHost, undefined, signal);
  const peerInNs = await linkExists(names.vethNs, names.netns, signal);
  if (!hostEnd || !peerInNs) {
    // Half a pair (an interrupted try): start that pair again. Deleting one end deletes both.
    if (hostEnd) await run('ip', ['link', 'del', names.vethHost], { signal });
    if (peerInNs) await run('ip', ['-n', names.netns, 'link', 'del', names.vethNs], { signal });
    if (await linkExists(names.vethNs, undefined, signal)) await run('ip', ['link', 'del', names.vethNs], { signal });
    await run('ip', ['link', 'add', names.vethHost, 'type', 'veth', 'peer', 'name', names.vethNs], { signal });
    await run('ip', ['link', 'set', names.vethNs, 'netns', names.netns], { signal });
    log(`created veth pair ${names.vethHost} (host) / ${names.vethNs} (namespace)`);
  }
  // `replace` and `set up` are idempotent: run them every time.
  await run('ip', ['addr', 'replace', `${subnet.hostAddress}/30`, 'dev', names.vethHost], { signal });
  await run('ip', ['link', 'set', names.vethHost, 'up'], { signal });
  await run('ip', ['-n', names.netns, 'addr', 'replace', `${subnet.nsAddress}/30`, 'dev', names.vethNs], { signal });
  await run('ip', ['-n', names.netns, 'link', 'set', names.vethNs, 'up'], { signal });
  await run('ip', ['-n', names.netns, 'link', 'set', 'lo', 'up'], { signal });
  // The host's own addresses are reachable through the host end; anything further needs the
  // operator's forwarding and NAT (docs/workspaces-providers.md).
  await run('ip', ['-n', names.netns, 'route', 'replace', 'default', 'via', subnet.hostAddress], { signal });
}

/** The pids of every process whose network namespace is this one (`ip netns pids`). */
export async function pidsInNetns(name: string, signal?: AbortSignal): Promise<number[]> {
  if (!(await netnsExists(name, signal))) return [];
  const out = await run('ip', ['netns', 'pids', name], { signal });
  return out.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number);
}

/** Deletes the namespace (which deletes the veth end inside it, and so the pair) and any stray host end. */
export async function removeNetwork(names: NetnsNames, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
  if (await netnsExists(names.netns, signal)) {
    await run('ip', ['netns', 'del', names.netns], { signal });
    log(`deleted network namespace ${names.netns}`);
  }
  for (const link of [names.vethHost, names.vethNs]) {
    if (!(await linkExists(link, undefined, signal))) continue;
    try {
      await run('ip', ['link', 'del', link], { signal });
      log(`deleted veth ${link}`);
    } catch (err) {
      // The kernel deletes a namespace's interfaces (and so the pair) asynchronously after
      // `ip netns del`: gone by now is what was wanted.
      if (await linkExists(link, undefined, signal)) throw err;
    }
  }
}
