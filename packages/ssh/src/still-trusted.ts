import type { OpenConnection } from './open-route.ts';
import type { SshEndpoint } from './ssh-endpoint.ts';

/**
 * A pooled connection is reused only while the key it was verified with is still trusted: if an
 * operator replaced the inventory pins (a legitimate key rotation, or a revocation), connections
 * verified against the old pins are retired and the next job verifies afresh.
 */
export function stillTrusted(target: SshEndpoint, c: OpenConnection): boolean {
  if (c.hostKeySource === 'known_hosts') return true;
  return target.pinnedHostKeys.length === 0 || target.pinnedHostKeys.includes(c.hostKey);
}
