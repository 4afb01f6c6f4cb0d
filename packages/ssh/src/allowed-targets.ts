import { BlockList, isIP } from 'node:net';
import { matchPattern } from '@vmo/shared/hosts';

/**
 * VMO_SSH_ALLOWED_TARGETS: where the worker may open SSH connections, for a job's host and for
 * every ProxyJump hop. A comma-separated list of
 *  - CIDRs or single addresses (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`): allow those addresses;
 *  - host patterns (`*.internal`, `db-?.example.com`): allow a host written that way in the
 *    inventory, matched case-insensitively with OpenSSH's wildcards (`*` any run, `?` one character).
 * Each entry allows what it names. A name matching no pattern is resolved on the worker and
 * allowed only through an address inside a CIDR, and the connection then goes to that very
 * address (see plan-hop.ts): a name that resolves into a disallowed network, now or after a DNS
 * change between check and connect, is never dialled. A pattern trusts the DNS of the names it
 * matches. Unset: every target is allowed (the default, as before this setting existed).
 */
export interface TargetPolicy {
  /** Host patterns, lower case (matched with ignoreCase all the same). */
  patterns: string[];
  addresses: BlockList;
}

const PATTERN = /^[a-z0-9*?_.-]+$/;

export function parseAllowedTargets(value: string): TargetPolicy {
  const patterns: string[] = [];
  const addresses = new BlockList();
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('must list CIDRs or host patterns separated by ","; leave it unset to allow every target');
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(address);
    if (family !== 0) {
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash < 0) {
        addresses.addAddress(address, type);
        continue;
      }
      const bits = entry.slice(slash + 1);
      if (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) throw new Error(`${JSON.stringify(entry)} is not a CIDR (prefix length 0-${family === 4 ? 32 : 128})`);
      addresses.addSubnet(address, Number(bits), type);
    } else if (slash < 0 && PATTERN.test(entry.toLowerCase())) {
      patterns.push(entry.toLowerCase());
    } else {
      throw new Error(`${JSON.stringify(entry)} is neither a CIDR nor a host pattern (letters, digits, ".", "-", "_", "*", "?")`);
    }
  }
  return { patterns, addresses };
}

/** Whether the host as written in the inventory matches a host pattern. */
export function nameAllowed(policy: TargetPolicy, host: string): boolean {
  return policy.patterns.some((p) => matchPattern(host, p, { ignoreCase: true }));
}

export function addressAllowed(policy: TargetPolicy, address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  try {
    return policy.addresses.check(address, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false; // e.g. a zone id (fe80::1%eth0) BlockList does not take
  }
}
