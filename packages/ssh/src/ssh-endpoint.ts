import type { HostKeyPolicy } from '@vmo/shared/hosts';

/** One SSH server to log in to: the target, or a ProxyJump hop. */
export interface SshEndpoint {
  /** For messages: `user@host:port`, plus the inventory name when there is one. */
  label: string;
  /** Inventory id: where accept-new pins the key. Null for a literal ProxyJump hop. */
  hostId: string | null;
  host: string;
  port: number;
  user: string;
  identityFile: string | null;
  hostKeyPolicy: HostKeyPolicy;
  pinnedHostKeys: string[];
}

/** The target and the bastions in front of it, first hop first. */
export interface SshRoute {
  target: SshEndpoint;
  jumps: SshEndpoint[];
}

/** What must be equal for two jobs to share a connection (pins are checked separately, see the pool). */
export function routeKey(route: SshRoute): string {
  const part = (e: SshEndpoint) => [e.hostId, e.host, e.port, e.user, e.identityFile, e.hostKeyPolicy];
  return JSON.stringify([part(route.target), ...route.jumps.map(part)]);
}
