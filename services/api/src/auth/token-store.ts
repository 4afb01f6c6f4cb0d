import { GroupCommit } from '@vmo/shared/batch';
import type { Database } from '@vmo/shared/db';
import type { TokenScope, UserRole } from '@vmo/shared/domain';
import { hashToken, sameHash } from '@vmo/shared/tokens';
import type { Principal } from './principal.ts';
import type { ProxyIdentity } from './proxy-identity.ts';

/** VMO_TOKEN_LOOKUP_DEADLINE_MS's default (env.ts says why). */
export const DEFAULT_TOKEN_LOOKUP_DEADLINE_MS = 3_000;

/** last_used_at is written at most this often per token and process: it is for people ("used today?"), not accounting. */
const LAST_USED_EVERY_MS = 60_000;

interface TokenRow {
  id: string;
  name: string;
  token_hash: string;
  role: 'admin' | null;
  user_id: string | null;
  scopes: TokenScope[] | null;
  user_name: string | null;
  user_role: UserRole | null;
  user_disabled: boolean | null;
}

/**
 * Resolves a presented token to who is calling, as the token and its user are NOW.
 *
 * LOUD: nothing is cached. A revoked or expired token, a disabled user or a changed role must
 * hold from the very next request on every API node (issue 11), and a cache on each node would
 * need every node told at once, which pub/sub cannot promise (BUS.md §7: at most once). So every
 * request costs one statement: an index lookup by the token's sha256 (api_tokens_hash_idx) joined
 * to the user's primary key, with revocation, expiry (Postgres' clock, the same for every node)
 * and `disabled` checked in it. That is as cheap as the lookup the old 5 s cache saved, and it
 * replaces it.
 *
 * Lookup by hash (never the token itself); the final comparison is constant-time; every refusal
 * is the same `null` (unknown, revoked, expired, disabled), so the answer tells nothing more.
 *
 * The lookups of requests that arrive together share one statement (`token_hash = any(…)`, each
 * hash once: concurrent requests with the same token are one row): GroupCommit, issue 16.
 * LOUD: still nothing cached. A lookup joins only a statement that has not started yet, so it
 * sees every revocation committed before its request arrived, as its own statement would.
 */
export class TokenStore {
  private readonly lastUsedWritten = new Map<string, number>();
  private readonly lookups: GroupCommit<string, TokenRow | undefined>;

  /**
   * `proxy`: set when VMO_TRUSTED_PROXIES is; without it no request is ever identified by a header.
   * `lookupDeadlineMs`: VMO_TOKEN_LOOKUP_DEADLINE_MS (env.ts says why 3 s).
   */
  constructor(
    private readonly database: Database,
    readonly proxy?: ProxyIdentity,
    { lookupDeadlineMs = DEFAULT_TOKEN_LOOKUP_DEADLINE_MS }: { lookupDeadlineMs?: number } = {},
  ) {
    this.lookups = new GroupCommit<string, TokenRow | undefined>({
      commit: (hashes) => this.rowsFor(hashes),
      maxBatch: 256,
      maxInFlight: 2,
      // A read: a lookup past its deadline (a lock on api_tokens, a black-holed connection) is
      // answered 503 `unavailable` with Retry-After (BatchOverdue), never left to hang the request;
      // nothing was written, so the client's retry is harmless. At most two such lookups stay open
      // (then 503 at once, nothing sent), so a dead database holds at most four of the pool's connections.
      deadlineMs: lookupDeadlineMs,
      whenOverdue: 'reject',
      maxOverdue: 2,
      label: 'the token lookup',
    });
  }

  async verify(token: string): Promise<Principal | null> {
    const hash = hashToken(token);
    const row = await this.lookups.add(hash);
    if (!row || !sameHash(row.token_hash, hash)) return null;
    let principal: Principal | null = null;
    if (row.user_id === null) {
      // The bootstrap admin: VMO_ADMIN_TOKEN or the generated one. Belongs to nobody.
      if (row.role === 'admin') principal = { kind: 'bootstrap', tokenId: row.id, userId: null, name: row.name, role: 'admin', scopes: null };
    } else if (row.user_name !== null && row.user_role !== null && row.user_disabled === false) {
      principal = { kind: 'user', tokenId: row.id, userId: row.user_id, name: row.user_name, role: row.user_role, scopes: row.scopes };
    }
    if (principal) this.touch(row.id);
    return principal;
  }

  /** The live rows of these hashes (revoked, expired: none), one per hash asked, in order. */
  private async rowsFor(hashes: readonly string[]): Promise<(TokenRow | undefined)[]> {
    const distinct = [...new Set(hashes)];
    const rows = await this.database.sql<TokenRow[]>`
      select t.id, t.name, t.token_hash, t.role, t.user_id, t.scopes,
             u.name as user_name, u.role as user_role, u.disabled as user_disabled
      from api_tokens t left join users u on u.id = t.user_id
      where t.token_hash = any(${distinct}::text[]) and t.revoked_at is null and (t.expires_at is null or t.expires_at > now())`;
    const byHash = new Map(rows.map((r) => [r.token_hash, r]));
    return hashes.map((h) => byHash.get(h));
  }

  /** Best effort, at most once a minute per token and process, never awaited by the request. */
  private touch(tokenId: string): void {
    const now = Date.now();
    if ((this.lastUsedWritten.get(tokenId) ?? 0) > now - LAST_USED_EVERY_MS) return;
    if (this.lastUsedWritten.size > 10_000) this.lastUsedWritten.clear();
    this.lastUsedWritten.set(tokenId, now);
    this.database.sql`update api_tokens set last_used_at = now() where id = ${tokenId} and (last_used_at is null or last_used_at < now() - interval '1 minute')`.catch(() => {});
  }
}
