import { and, eq, isNull } from 'drizzle-orm';
import { apiTokens } from '@vmo/shared/db';
import type { Database } from '@vmo/shared/db';
import { hashToken, sameHash } from '@vmo/shared/tokens';
import type { Principal } from './principal.ts';

const CACHE_MS = 5000;

/**
 * Looks up user tokens by their sha256, with a short cache so a busy client does not cost a
 * query per request. The lookup is by hash (never the token), and the final comparison is
 * constant-time.
 */
export class TokenStore {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();

  constructor(private readonly database: Database) {}

  async verify(token: string): Promise<Principal | null> {
    const hash = hashToken(token);
    const hit = this.cache.get(hash);
    if (hit && hit.until > Date.now()) return hit.principal;
    const [row] = await this.database.db
      .select()
      .from(apiTokens)
      .where(and(eq(apiTokens.tokenHash, hash), isNull(apiTokens.revokedAt)))
      .limit(1);
    // Only the bootstrap admin tokens (role 'admin') until user tokens are read here.
    const principal = row && row.role === 'admin' && sameHash(row.tokenHash, hash) ? { kind: 'bootstrap' as const, tokenId: row.id, userId: null, name: row.name, role: 'admin' as const, scopes: null } : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, until: Date.now() + CACHE_MS });
    return principal;
  }
}
