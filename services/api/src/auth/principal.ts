import type { TokenScope, UserRole } from '@vmo/shared/domain';

/**
 * Who is calling (issue 11). Built by authenticate() for every REST request and stream upgrade,
 * from a token or from the trusted proxy's user header, with the user's role as it is NOW.
 */
export interface Principal {
  /** bootstrap: VMO_ADMIN_TOKEN or the generated admin token (api_tokens.role='admin', user_id null). */
  kind: 'bootstrap' | 'user' | 'proxy';
  /** null for a proxy identity (no token was presented). */
  tokenId: string | null;
  /** null for the bootstrap admin, who is nobody. */
  userId: string | null;
  /** The user's name; 'admin (VMO_ADMIN_TOKEN)' (the token's name) for the bootstrap admin. */
  name: string;
  /** The user's role now; 'admin' for the bootstrap admin. */
  role: UserRole;
  /** The token's scopes; null = everything the role allows. Scopes narrow, never widen. */
  scopes: readonly TokenScope[] | null;
}

export type AuthEnv = { Variables: { principal: Principal; requestId: string } };

/**
 * A stable key for what a principal did before (Idempotency-Key is scoped per caller): the user
 * for users and proxy identities, so a user's two tokens share their keys; the token for the
 * bootstrap admin.
 */
export const principalKey = (p: Principal): string => p.userId ?? p.tokenId ?? `proxy:${p.name}`;
