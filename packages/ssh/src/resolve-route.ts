import { eq } from 'drizzle-orm';
import { hosts, type Db } from '@vmo/shared/db';
import { resolveHost, type HostRow } from '@vmo/shared/hosts';
import type { SshEndpoint, SshRoute } from './ssh-endpoint.ts';
import { SshError } from './ssh-error.ts';

export class UnknownHostError extends Error {
  readonly code = 'unknown_host';
}

/** The job's host, read fresh (settings may have changed since submit), and its ProxyJump hops. */
export async function resolveRoute(db: Db, hostId: string): Promise<SshRoute> {
  const [row] = await db.select().from(hosts).where(eq(hosts.id, hostId)).limit(1);
  if (!row) throw new UnknownHostError(`host ${hostId} no longer exists (deleted after the job was submitted)`);
  const target = endpointOf(row);
  const jumps: SshEndpoint[] = [];
  for (const hop of (row.proxyJump ?? '').split(',').filter(Boolean)) jumps.push(await resolveHop(db, hop, row));
  return { target, jumps };
}

export function endpointOf(row: HostRow, override: { user?: string; port?: number } = {}): SshEndpoint {
  const user = override.user ?? row.user;
  const port = override.port ?? row.port;
  return {
    label: `${row.name}@${row.environment} (${user}@${row.host}:${port})`,
    hostId: row.id,
    host: row.host,
    port,
    user,
    identityFile: row.identityFile,
    hostKeyPolicy: row.hostKeyPolicy,
    pinnedHostKeys: row.pinnedHostKeys,
  };
}

/**
 * A hop is `[ssh://][user@]host[:port]`, as in OpenSSH. When `host` names an inventory host (in
 * the target's environment first, then by id / name@environment / bare name) that host's address,
 * user, port, identity file and host key trust apply, with the hop's user/port on top. Otherwise it
 * is a literal bastion: the target's user and identity file, port 22, and strict host key checking
 * (there is no inventory row to pin a new key in). A hop's own ProxyJump is not followed.
 */
async function resolveHop(db: Db, hop: string, target: HostRow): Promise<SshEndpoint> {
  const m = /^(?:ssh:\/\/)?(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d{1,5}))?$/.exec(hop);
  if (!m) throw new SshError('ssh_jump_failed', `ProxyJump hop ${JSON.stringify(hop)} of ${target.name} is not [user@]host[:port]`);
  const user = m[1];
  const host = m[2]!.replace(/^\[|\]$/g, '');
  const port = m[3] ? Number(m[3]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw new SshError('ssh_jump_failed', `ProxyJump hop ${JSON.stringify(hop)}: bad port`);
  const inventory = (await resolveHost(db, `${host}@${target.environment}`).catch(() => undefined)) ?? (await resolveHost(db, host).catch(() => undefined));
  if (inventory) return endpointOf(inventory, { user, port });
  const hopUser = user ?? target.user;
  const hopPort = port ?? 22;
  return {
    label: `${hopUser}@${host}:${hopPort}`,
    hostId: null,
    host,
    port: hopPort,
    user: hopUser,
    identityFile: target.identityFile,
    hostKeyPolicy: 'strict',
    pinnedHostKeys: [],
  };
}
