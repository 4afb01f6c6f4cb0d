import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { AppError, errorBody } from '@vmo/shared/errors';
import type { Keys } from '@vmo/shared/redis';
import { bearerToken, tokenKind } from '@vmo/shared/tokens';
import type { AuthRequest, ProxyIdentity } from '../auth/proxy-identity.ts';
import { restAuthRequest } from '../auth/require-user.ts';
import { auditSourceAddress } from './audit-source.ts';
import { upgradeAuthRequest } from './upgrade-auth.ts';
import { rateLimited, type Rate, type RateLimiter, type Verdict } from './rate-limit.ts';
import { addressKey } from './unauthenticated-connections.ts';

/** Addresses (and, apart, credentials) held blocked in memory at most; past it the expired ones go, then the oldest. */
const MAX_BLOCKED = 10_000;
const FROM_ADDRESS = 'too many failed authentications from your address';
const WITH_CREDENTIAL = 'too many failed authentications with this credential';

/**
 * The key a presented credential is counted under: a prefix of a domain-separated sha256 of it.
 * Tokens carry no public id part (`vmo_usr_` + 256 random bits, shared/tokens.ts), so the value
 * itself is all there is to key on. LOUD: never the token, nor its plain sha256 (which is what
 * api_tokens and agents store, the key a lookup uses): Redis and this process's memory only ever
 * hold 96 bits of a different hash, which names a credential without letting anyone present it.
 */
export function credentialKey(token: string): string {
  return createHash('sha256').update('vmo failed-auth credential\0').update(token).digest('base64url').slice(0, 16);
}

/** Keys blocked until a time (epoch ms), at most MAX_BLOCKED of them: a flood of blocks costs bounded memory. */
class Blocks {
  private readonly until = new Map<string, number>();

  /** ms left of the key's block, or undefined. */
  left(key: string): number | undefined {
    const until = this.until.get(key);
    if (until === undefined) return undefined;
    const left = until - Date.now();
    if (left > 0) return left;
    this.until.delete(key);
    return undefined;
  }

  block(key: string, until: number): void {
    if (this.until.size >= MAX_BLOCKED) {
      const now = Date.now();
      for (const [k, u] of this.until) if (u <= now) this.until.delete(k);
      for (const k of this.until.keys()) {
        if (this.until.size < MAX_BLOCKED) break;
        this.until.delete(k);
      }
    }
    this.until.delete(key); // re-inserted last: the oldest block is the first to go
    this.until.set(key, until);
  }
}

const NOT_COUNTED: Verdict = { allowed: true, resetMs: 0 };

/**
 * The address a request's failed authentications count against: the client's, as its audit row
 * names it (http/audit-source.ts). That is the socket's peer, unless the peer is a trusted proxy
 * (VMO_TRUSTED_PROXIES), in which case the client it forwarded for (X-Forwarded-For): otherwise
 * five wrong tokens from one client would lock every token user behind the proxy out for the
 * window. LOUD: X-Forwarded-For is believed only from a trusted proxy, never from anyone else: a
 * direct client must not pick the key it is counted under.
 */
export function failedAuthAddress(req: IncomingMessage | undefined, proxy: ProxyIdentity | undefined): string | undefined {
  if (!req) return undefined;
  const forwarded = req.headers['x-forwarded-for'];
  const isTrustedProxy = (address: string) => proxy?.settings.trusted.has(address) ?? false;
  return auditSourceAddress(req.socket.remoteAddress, Array.isArray(forwarded) ? forwarded.join(',') : forwarded, isTrustedProxy) ?? undefined;
}

/**
 * VMO_AUTH_FAIL_RATE: failed authentications per source address (an IPv6 /64; the client a trusted
 * proxy forwarded for, failedAuthAddress) and, apart, per
 * credential presented (credentialKey), so one token can be tried neither from one address
 * many times nor from many addresses (a botnet, a fleet replaying a revoked token). A failure is
 * a token that was looked up and refused (401: unknown, revoked, expired, of a disabled user; a
 * user, admin, agent or enrolment token alike); requests with no token, or a malformed
 * Authorization header, are never counted, since they look nothing up. Past the limit, every
 * request from that address, and every request presenting that credential, whose token would be
 * looked up is 429 `rate_limited` (with Retry-After) until the window ends, before the token is
 * looked at: a right guess must look exactly like a wrong one. Other requests are not held up, so
 * the users an auth proxy identifies by its header keep working whatever their address, and
 * another credential from a credential-blocked client's address is still answered.
 *
 * Only a credential that failed is ever blocked: nobody can lock a working token out without
 * holding it, and a token that fails is of no use to anyone until its window ends (a user
 * re-enabled meanwhile waits that long).
 *
 * The counts are in Redis (every node adds to one count per address, and one per credential),
 * each key expiring with its window. Whether an address or credential is blocked is kept in
 * memory on each node, learned from its own counting, so a successful request costs no round
 * trip: a node that has not seen a failure from a blocked address or credential since the block
 * began will still verify it once. An attacker therefore gets at most the limit plus one guess
 * per API node per window. Failures counted are at most the per-address limit times the
 * addresses, so the keys in Redis are bounded by the same.
 */
export class FailedAuthLimiter {
  private readonly addresses = new Blocks();
  private readonly credentials = new Blocks();

  constructor(
    private readonly limiter: RateLimiter,
    private readonly keys: Keys,
    private readonly rate: Rate,
  ) {}

  /**
   * 429 if `address`, or the `credential` presented, is blocked (as this node knows), else
   * undefined. Call only for a request that presents a token.
   */
  refusal(address: string | undefined, credential?: string): AppError | undefined {
    const byAddress = this.addresses.left(addressKey(address));
    const byCredential = credential === undefined ? undefined : this.credentials.left(credentialKey(credential));
    return refusalOf(byAddress, byCredential);
  }

  /**
   * Count a refused token from `address` (and against `credential`, the token presented): the 429
   * to answer instead of the 401 once past either limit, else undefined.
   */
  async failed(address: string | undefined, credential?: string): Promise<AppError | undefined> {
    const addrKey = addressKey(address);
    const credKey = credential === undefined ? undefined : credentialKey(credential);
    // Both at once: one round trip's wait (this is the 401 path only).
    const [byAddress, byCredential] = await Promise.all([
      this.limiter.hit(this.keys.rateLimit('auth-fail', addrKey), this.rate),
      credKey === undefined ? NOT_COUNTED : this.limiter.hit(this.keys.rateLimit('auth-fail-cred', credKey), this.rate),
    ]);
    const now = Date.now();
    if (!byAddress.allowed) this.addresses.block(addrKey, now + byAddress.resetMs);
    if (!byCredential.allowed) this.credentials.block(credKey!, now + byCredential.resetMs);
    return refusalOf(byAddress.allowed ? undefined : byAddress.resetMs, byCredential.allowed ? undefined : byCredential.resetMs);
  }
}

/** The 429 for whichever blocks hold (ms left of each), until the later one ends. */
function refusalOf(byAddress: number | undefined, byCredential: number | undefined): AppError | undefined {
  if (byAddress === undefined && byCredential === undefined) return undefined;
  const left = Math.max(byAddress ?? 0, byCredential ?? 0);
  return rateLimited(left, byCredential === undefined ? FROM_ADDRESS : WITH_CREDENTIAL);
}

/**
 * Whether this request's token will be looked up, by authenticate()'s rule (auth/authenticate.ts):
 * a token was given, and it is not a bearer of no vmo kind forwarded by a trusted auth proxy beside
 * its user header (the proxy's own OIDC token, which authenticate ignores: the header is the
 * identity). Only these requests are counted, and held up while their address is blocked.
 */
export function looksUpToken(req: AuthRequest, proxy: ProxyIdentity | undefined): boolean {
  if (req.token === undefined) return false;
  return proxy?.applies(req) !== true || tokenKind(req.token) !== undefined;
}

/**
 * looksUpToken for an upgrade: the token it presents if that will be looked up (a stream's, in
 * its header or subprotocol, by REST's proxy rules; the agent endpoint's header), else undefined.
 */
export function upgradeTokenToLookUp(req: IncomingMessage, isAgent: boolean, proxy: ProxyIdentity | undefined): string | undefined {
  if (isAgent) return bearerToken(req.headers.authorization);
  try {
    const auth = upgradeAuthRequest(req);
    return looksUpToken(auth, proxy) ? auth.token : undefined;
  } catch (err) {
    if (err instanceof AppError) return undefined; // a malformed offer (400): refused without a lookup
    throw err;
  }
}

/**
 * For REST, around the token check (requireUser): a token from a blocked address, or a blocked
 * token, is 429 before it is looked at, and a refused one (the 401 requireUser answered) is
 * counted, the answer turned into the 429 when it passes a limit.
 */
export function limitFailedAuth(limiter: FailedAuthLimiter, proxy: ProxyIdentity | undefined): MiddlewareHandler {
  return async function failedAuthLimit(c, next) {
    const auth = restAuthRequest(c);
    if (!looksUpToken(auth, proxy)) return next();
    const address = failedAuthAddress((c.env as { incoming?: IncomingMessage } | undefined)?.incoming, proxy);
    const blocked = limiter.refusal(address, auth.token);
    if (blocked) throw withRetryAfter(c, blocked);
    await next();
    if (c.res.status !== 401) return;
    const over = await limiter.failed(address, auth.token);
    if (!over) return;
    // A new answer in place of requireUser's 401 (cleared first: Hono would copy the old headers over it).
    c.res = undefined;
    c.res = c.json(errorBody(over), 429, { 'Retry-After': String(over.details!.retryAfterSeconds) });
  };
}

function withRetryAfter(c: { header(name: string, value: string): void }, err: AppError): AppError {
  c.header('Retry-After', String(err.details!.retryAfterSeconds));
  return err;
}
