import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { AppError, errorBody } from '@vmo/shared/errors';
import type { Keys } from '@vmo/shared/redis';
import { bearerToken, tokenKind } from '@vmo/shared/tokens';
import type { AuthRequest, ProxyIdentity } from '../auth/proxy-identity.ts';
import { restAuthRequest } from '../auth/require-user.ts';
import { upgradeAuthRequest } from './upgrade-auth.ts';
import { rateLimited, type Rate, type RateLimiter } from './rate-limit.ts';
import { addressKey } from './unauthenticated-connections.ts';

/** Addresses held blocked in memory at most; past it the expired ones go, then the oldest. */
const MAX_BLOCKED = 10_000;
const MESSAGE = 'too many failed authentications from your address';

/**
 * VMO_AUTH_FAIL_RATE: failed authentications per source address (an IPv6 /64). A failure is a
 * token that was looked up and refused (401: unknown, revoked, expired, of a disabled user);
 * requests with no token, or a malformed Authorization header, are never counted, since they
 * look nothing up. Past the limit, every request from that address whose token would be looked
 * up is 429 `rate_limited` (with Retry-After) until the window ends, before the token is looked
 * at: a right guess must look exactly like a wrong one. Other requests are not held up, so the
 * users an auth proxy identifies by its header keep working though they share its address.
 *
 * The counts are in Redis (every node adds to one count per address). Whether an address is
 * blocked is kept in memory on each node, learned from its own counting, so a successful request
 * costs no round trip: a node that has not seen a failure from a blocked address since the block
 * began will still verify one token from it. An attacker therefore gets at most the limit plus
 * one guess per API node per window.
 */
export class FailedAuthLimiter {
  /** Address key → when its block ends (epoch ms). */
  private readonly blocked = new Map<string, number>();

  constructor(
    private readonly limiter: RateLimiter,
    private readonly keys: Keys,
    private readonly rate: Rate,
  ) {}

  /** 429 if `address` is blocked (as this node knows), else undefined. Call only for a request that presents a token. */
  refusal(address: string | undefined): AppError | undefined {
    const key = addressKey(address);
    const until = this.blocked.get(key);
    if (until === undefined) return undefined;
    const left = until - Date.now();
    if (left > 0) return rateLimited(left, MESSAGE);
    this.blocked.delete(key);
    return undefined;
  }

  /** Count a refused token from `address`: the 429 to answer instead of the 401 once past the limit, else undefined. */
  async failed(address: string | undefined): Promise<AppError | undefined> {
    const key = addressKey(address);
    const verdict = await this.limiter.hit(this.keys.rateLimit('auth-fail', key), this.rate);
    if (verdict.allowed) return undefined;
    this.block(key, Date.now() + verdict.resetMs);
    return rateLimited(verdict.resetMs, MESSAGE);
  }

  private block(key: string, until: number): void {
    if (this.blocked.size >= MAX_BLOCKED) {
      const now = Date.now();
      for (const [k, u] of this.blocked) if (u <= now) this.blocked.delete(k);
      for (const k of this.blocked.keys()) {
        if (this.blocked.size < MAX_BLOCKED) break;
        this.blocked.delete(k);
      }
    }
    this.blocked.delete(key); // re-inserted last: the oldest block is the first to go
    this.blocked.set(key, until);
  }
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

/** looksUpToken for an upgrade: a stream's token (header or subprotocol, proxy rules as REST), or the agent endpoint's header. */
export function upgradeLooksUpToken(req: IncomingMessage, isAgent: boolean, proxy: ProxyIdentity | undefined): boolean {
  if (isAgent) return bearerToken(req.headers.authorization) !== undefined;
  try {
    return looksUpToken(upgradeAuthRequest(req), proxy);
  } catch (err) {
    if (err instanceof AppError) return false; // a malformed offer (400): refused without a lookup
    throw err;
  }
}

/**
 * For REST, around the token check (requireUser): a token from a blocked address is 429 before
 * it is looked at, and a refused one (the 401 requireUser answered) is counted, the answer turned
 * into the 429 when it passes the limit.
 */
export function limitFailedAuth(limiter: FailedAuthLimiter, proxy: ProxyIdentity | undefined): MiddlewareHandler {
  return async function failedAuthLimit(c, next) {
    if (!looksUpToken(restAuthRequest(c), proxy)) return next();
    const address = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress;
    const blocked = limiter.refusal(address);
    if (blocked) throw withRetryAfter(c, blocked);
    await next();
    if (c.res.status !== 401) return;
    const over = await limiter.failed(address);
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
