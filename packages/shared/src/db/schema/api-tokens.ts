import { sql } from 'drizzle-orm';
import { index, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { TokenScope } from '../../domain/access.ts';

/**
 * User API tokens, stored hashed. `user_id` null: the bootstrap admin token (VMO_ADMIN_TOKEN or
 * the one printed at first start), which is an admin and belongs to nobody. A user token acts with
 * its user's role as it is NOW (a demotion applies at once), narrowed by `scopes` (null: all).
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    /** 'admin' for the bootstrap token; null for a user's token (the role is the user's). */
    role: text('role').$type<'admin'>(),
    userId: text('user_id'),
    scopes: jsonb('scopes').$type<TokenScope[]>(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /**
     * The token that minted this one for its own user (POST /v1/tokens without another `user`);
     * null when an admin made it for someone (a deliberate grant, not a copy of the caller's).
     * LOUD: revoking a token revokes every descendant in the same transaction
     * (users/api-tokens.ts revokeApiToken), so a leaked token's copies die with it.
     */
    parentTokenId: text('parent_token_id'),
  },
  (t) => [
    // Authentication of every REST request.
    uniqueIndex('api_tokens_hash_idx').on(t.tokenHash),
    // GET /v1/tokens (a user's own).
    index('api_tokens_user_idx').on(t.userId),
    // The cascade of a revocation to a token's descendants.
    index('api_tokens_parent_idx').on(t.parentTokenId),
  ],
);
