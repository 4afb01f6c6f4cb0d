import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { addressAllowed, nameAllowed, type TargetPolicy } from './allowed-targets.ts';
import type { SshEndpoint } from './ssh-endpoint.ts';
import { hostPort, SshError } from './ssh-error.ts';

/**
 * What to dial for one hop (or ask the previous bastion to forward to), decided before any
 * connection of the route is opened.
 *
 * LOUD: with VMO_SSH_ALLOWED_TARGETS set, a name that no host pattern allows is resolved here and
 * the address returned is the one connected to. Handing the name on to ssh2 (or to a bastion)
 * would resolve it a second time, and a DNS answer that changes in between (DNS rebinding) would
 * land the connection on an address nobody checked.
 */
/** Every address a name has, as getaddrinfo gives them (what OpenSSH uses too). */
export type ResolveName = (host: string) => Promise<{ address: string }[]>;

export const resolveWithGetaddrinfo: ResolveName = (host) => lookup(host, { all: true, verbatim: true });

export async function planHop(endpoint: SshEndpoint, policy: TargetPolicy | null, via: string, deadlineMs: number, resolve: ResolveName = resolveWithGetaddrinfo): Promise<string> {
  const { host } = endpoint;
  if (!policy || nameAllowed(policy, host)) return host;
  if (isIP(host)) {
    if (addressAllowed(policy, host)) return host;
    throw notAllowed(endpoint, via, `${host} is in no allowed CIDR`);
  }
  let found: { address: string }[];
  try {
    found = await withDeadline(resolve(host), deadlineMs);
  } catch (err) {
    // Not `ssh_connect_failed`: that would tell a caller which internal names exist (a name that
    // resolves outside the CIDRs is `ssh_target_not_allowed`). The cause goes to the log only.
    throw notAllowed(endpoint, via, `cannot resolve ${host}: ${(err as Error).message}`);
  }
  const allowed = found.find((a) => addressAllowed(policy, a.address));
  if (allowed) return allowed.address;
  throw notAllowed(endpoint, via, `${host} resolves to ${found.map((a) => a.address).join(', ')}, in no allowed CIDR and matching no allowed host pattern`);
}

function notAllowed(endpoint: SshEndpoint, via: string, detail: string): SshError {
  return new SshError('ssh_target_not_allowed', `${hostPort(endpoint.host, endpoint.port)}${via} is not an allowed SSH target (VMO_SSH_ALLOWED_TARGETS); nothing was dialled`, detail);
}

/** getaddrinfo cannot be canceled; past the deadline its answer is ignored. */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  p.catch(() => {});
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
