import { z } from 'zod';
import { BlockList, isIP } from 'node:net';

/** One CIDR of VMO_TRUSTED_PROXIES, parsed. */
export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * VMO_TRUSTED_PROXIES: CIDRs (or single addresses) separated by commas or spaces, e.g.
 * `10.0.0.0/8, 192.168.1.7, fd00::/8`. Returns the list, or a message naming the first bad entry.
 */
export function parseCidrs(text: string): Cidr[] | string {
  const entries = text.split(/[\s,]+/).filter((e) => e !== '');
  const out: Cidr[] = [];
  for (const entry of entries) {
    const [address = '', prefixText, extra] = entry.split('/');
    const version = isIP(address);
    if (version === 0 || extra !== undefined) return `${JSON.stringify(entry)} is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.168.1.7, fd00::/8)`;
    const max = version === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= 0 && prefix <= max)) return `${JSON.stringify(entry)}: the prefix length must be a whole number from 0 to ${max}`;
    out.push({ address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' });
  }
  return out;
}

/**
 * Is a socket's peer address one of the trusted proxies? IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`,
 * what a server listening on `::` sees for IPv4 clients) are checked as the IPv4 address they are.
 */
export class TrustedProxies {
  private readonly list = new BlockList();

  constructor(readonly cidrs: readonly Cidr[]) {
    for (const c of cidrs) this.list.addSubnet(c.address, c.prefix, c.family);
  }

  get enabled(): boolean {
    return this.cidrs.length > 0;
  }

  has(peer: string | undefined): boolean {
    if (!peer || !this.enabled) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer);
    const address = mapped ? mapped[1]! : peer;
    const version = isIP(address);
    if (version === 0) return false;
    return this.list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}

/** VMO_TRUSTED_PROXIES as a schema: empty (off) by default; a bad entry is refused at start, named. */
export const trustedProxiesVar = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const parsed = parseCidrs(text);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  });

/** An HTTP header name (RFC 9110 token), e.g. VMO_USER_HEADER. */
export const headerNameVar = (def: string) =>
  z
    .string()
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/, 'must be an HTTP header name (letters, digits and -, e.g. X-VM-User)')
    .refine((name) => !['authorization', 'cookie', 'host', 'origin'].includes(name.toLowerCase()), 'must be a header of its own, not Authorization, Cookie, Host or Origin')
    .default(def);
