import { and, desc, eq, isNull, lt, sql as dsql } from 'drizzle-orm';
import { publishControl } from '../bus/publish.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { apiTokens } from '../db/schema/api-tokens.ts';
import { users } from '../db/schema/users.ts';
import { ROLE_SCOPES, type TokenScope } from '../domain/access.ts';
import { newId } from '../domain/ids.ts';
import { AppError, badRequest, unauthorized } from '../errors/app-error.ts';
import { generateToken, hashToken } from '../tokens.ts';
import type { UserRow } from './user-service.ts';

type TokenRow = typeof apiTokens.$inferSelect;

export function tokenView(row: TokenRow, user: { id: string; name: string } | null) {
  return {
    id: row.id,
    name: row.name,
    /** `bootstrap`: VMO_ADMIN_TOKEN or the generated admin token, which belongs to no user. */
    kind: row.userId === null ? ('bootstrap' as const) : ('user' as const),
    user,
    scopes: row.scopes ?? null,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
  };
}
export type TokenView = ReturnType<typeof tokenView>;

/** What the token used to create another may do: the new one may never do more, nor outlive it. */
export interface TokenLimits {
  /** The creating token's scopes; null: all of its role. */
  scopes: readonly TokenScope[] | null;
  /** The creating token's expiry; null: none. */
  expiresAt: Date | null;
  /** The creating token's id, recorded as the new one's parent (null: no token, e.g. a proxy identity). */
  parentTokenId: string | null;
}

export interface NewToken {
  user: UserRow;
  name: string;
  scopes?: TokenScope[] | undefined;
  expiresAt?: string | undefined;
  /** Display name of whoever created it. */
  createdBy: string;
  /** Limits of the caller's own token when it creates one for its own user; undefined for an admin creating one for someone else. */
  limits?: TokenLimits | undefined;
}

/**
 * POST /v1/tokens: a user token, answered once in clear and stored as its sha256. Its scopes must
 * be within the user's role (400 naming the scope: a scope the role lacks would silently do
 * nothing today and everything after a promotion, which is not what its creator asked for).
 * Created with the caller's own token, it may not do more than that token nor outlive it (403 /
 * 400): a short-lived or narrow token cannot mint itself a wider, longer one.
 */
export async function createApiToken(cp: ControlPlane, t: NewToken, now = new Date()): Promise<TokenView & { token: string }> {
  const role = t.user.role;
  for (const scope of t.scopes ?? []) {
    if (!ROLE_SCOPES[role].includes(scope)) {
      throw badRequest('validation_failed', `scopes: role ${role} of user ${JSON.stringify(t.user.name)} does not have ${scope}; a token's scopes narrow its user's role, never widen it`, { field: 'scopes', scope });
    }
  }
  let scopes: TokenScope[] | null = t.scopes ?? null;
  let expiresAt = t.expiresAt === undefined ? null : new Date(t.expiresAt);
  if (expiresAt !== null && expiresAt.getTime() <= now.getTime()) {
    throw badRequest('validation_failed', 'expiresAt: must be in the future', { field: 'expiresAt' });
  }
  if (t.limits) {
    const { scopes: callerScopes, expiresAt: callerExpiry } = t.limits;
    if (callerScopes !== null) {
      const beyond = (scopes ?? ROLE_SCOPES[role]).find((s) => !callerScopes.includes(s));
      // Without scopes, the new token takes the caller's (within the role); named ones must be among them.
      if (scopes === null) scopes = ROLE_SCOPES[role].filter((s) => callerScopes.includes(s));
      else if (beyond !== undefined) throw new AppError(403, 'forbidden', `scopes: ${beyond} is not among the scopes of the token making this request`, { field: 'scopes', scope: beyond });
    }
    if (callerExpiry !== null) {
      if (expiresAt === null) expiresAt = callerExpiry;
      else if (expiresAt > callerExpiry) {
        throw badRequest('validation_failed', `expiresAt: must not be after the expiry of the token making this request (${callerExpiry.toISOString()})`, { field: 'expiresAt' });
      }
    }
  }
  const token = generateToken('user');
  const parentTokenId = t.limits?.parentTokenId ?? null;
  const row = await cp.database.db.transaction(async (tx) => {
    if (parentTokenId !== null) {
      // LOUD: the parent is locked FOR SHARE until this insert commits, so a concurrent revocation
      // of it either waits for this child to exist (and then revokes it: revokeApiToken re-reads
      // descendants after locking) or commits first (and then this finds the parent revoked). No
      // child ever outlives a revoked parent.
      const [parent] = await tx
        .select({ id: apiTokens.id })
        .from(apiTokens)
        .where(and(eq(apiTokens.id, parentTokenId), isNull(apiTokens.revokedAt), dsql`(${apiTokens.expiresAt} is null or ${apiTokens.expiresAt} > now())`))
        .for('share');
      if (!parent) throw unauthorized('the token is not valid');
    }
    const [inserted] = await tx
      .insert(apiTokens)
      .values({ id: newId('tok'), name: t.name, tokenHash: hashToken(token), role: null, userId: t.user.id, scopes, expiresAt, createdBy: t.createdBy, parentTokenId })
      .returning();
    return inserted!;
  });
  return { ...tokenView(row, { id: t.user.id, name: t.user.name }), token };
}

/** GET /v1/tokens: tokens not revoked (expired ones included, with their expiresAt), newest first. `userId` undefined: everyone's, bootstrap tokens too. */
export async function listApiTokens(cp: ControlPlane, q: { userId?: string | undefined; limit: number; cursor?: string | undefined }): Promise<{ items: TokenView[]; nextCursor: string | null }> {
  const rows = await cp.database.db
    .select({ token: apiTokens, userName: users.name })
    .from(apiTokens)
    .leftJoin(users, eq(users.id, apiTokens.userId))
    .where(and(isNull(apiTokens.revokedAt), q.userId === undefined ? undefined : eq(apiTokens.userId, q.userId), q.cursor === undefined ? undefined : lt(apiTokens.id, q.cursor)))
    .orderBy(desc(apiTokens.id))
    .limit(q.limit + 1);
  const items = rows.slice(0, q.limit).map((r) => tokenView(r.token, r.token.userId === null ? null : { id: r.token.userId, name: r.userName ?? '' }));
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}

/** A token not revoked, with the user it belongs to (null: a bootstrap token). */
export async function findApiToken(cp: ControlPlane, id: string): Promise<{ id: string; name: string; userId: string | null; expiresAt: Date | null; scopes: TokenScope[] | null } | undefined> {
  const [row] = await cp.database.db
    .select({ id: apiTokens.id, name: apiTokens.name, userId: apiTokens.userId, expiresAt: apiTokens.expiresAt, scopes: apiTokens.scopes })
    .from(apiTokens)
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .limit(1);
  return row;
}

/**
 * DELETE /v1/tokens/{id}. Refused from the next request on every API node: no API node caches a
 * token's answer (auth/token-store.ts). A revoked VMO_ADMIN_TOKEN stays revoked across restarts:
 * set a new one.
 *
 * LOUD: every token minted from it (and from those, recursively: parent_token_id) is revoked in
 * the same transaction, so a leaked token's copies die with it and TokenStore.verify stays one
 * statement that never walks a chain. The root is locked first; a mint in flight holds its parent
 * FOR SHARE (createApiToken), so the descendants are re-read until a pass finds none left: a
 * child committed while the previous pass ran is caught by the next, and any later mint finds its
 * parent revoked.
 */
export async function revokeApiToken(cp: ControlPlane, id: string): Promise<void> {
  await cp.database.db.transaction(async (tx) => {
    await tx.update(apiTokens).set({ revokedAt: dsql`now()` }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)));
    for (;;) {
      const revoked = await tx.execute(dsql`
        with recursive tree(id) as (
          select id from api_tokens where parent_token_id = ${id}
          union
          select t.id from api_tokens t join tree on t.parent_token_id = tree.id
        )
        update api_tokens set revoked_at = now() where id in (select id from tree) and revoked_at is null
        returning id`);
      if (revoked.length === 0) break;
    }
  });
  // Streams opened with it (or a child) are cut by every API node (BUS.md §6); best effort, never throws.
  await publishControl(cp, { type: 'access_changed' });
}
