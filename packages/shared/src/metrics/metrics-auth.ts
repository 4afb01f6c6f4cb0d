import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Whether an Authorization header carries the metrics token (VMO_METRICS_TOKEN). Compared as
 * digests in constant time, so neither the token's length nor a matching prefix leaks by timing.
 */
export function presentsMetricsToken(authorization: string | undefined, token: string | undefined): boolean {
  if (!token || !authorization) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}
