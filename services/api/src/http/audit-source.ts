import type { TokenStore } from '../auth/token-store.ts';

/**
 * The address an audit row names as the request's source: the socket's peer, unless the peer is
 * a trusted proxy (VMO_TRUSTED_PROXIES), in which case the client it forwarded for. X-Forwarded-For
 * is read from the right: each trusted proxy appends the address it received from, so the first
 * entry from the right that is not itself a trusted proxy is the client. Entries left of it were
 * written by whoever connected first and prove nothing.
 *
 * A peer that is not trusted is the source whatever headers it sends: a forged X-Forwarded-For
 * from a client never hides it.
 */
export function auditSourceAddress(peer: string | undefined, forwardedFor: string | undefined, isTrustedProxy: (address: string) => boolean): string | null {
  if (peer === undefined) return null;
  const client = plain(peer);
  if (!forwardedFor || !isTrustedProxy(client)) return client;
  const hops = forwardedFor.split(',').map((h) => plain(h.trim())).filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) if (!isTrustedProxy(hops[i]!)) return hops[i]!;
  return hops[0] ?? client;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`: how node reports IPv4 peers on a dual-stack socket. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Until the API is told which proxies to trust, none is. */
export const trustNoProxy = (): boolean => false;

/** VMO_TRUSTED_PROXIES as the token store has it (set only when the variable is). */
export const trustedProxyOf =
  (tokens: TokenStore) =>
  (address: string): boolean =>
    tokens.proxy?.settings.trusted.has(address) ?? false;
