import type { MiddlewareHandler } from 'hono';
import { ROLE_SCOPES, type TokenScope } from '@vmo/shared/domain';
import { AppError } from '@vmo/shared/errors';
import type { AuthEnv, Principal } from './principal.ts';

// What each role may do at all lives with the roles (domain/access.ts): the token service checks
// a new token's scopes against it too. Policies (packages/shared/src/access) further restrict
// operators and viewers per target; admins bypass them.
export { ROLE_SCOPES };

/** True when the principal's role has `scope` and its token (if scoped) names it too: scopes narrow a role, never widen it. */
export function allows(p: Principal, scope: TokenScope): boolean {
  if (!ROLE_SCOPES[p.role].includes(scope)) return false;
  return p.scopes === null || p.scopes.includes(scope);
}

/** The 403 for a missing scope, naming it and saying whether the role or the token lacks it. */
export function scopeDenied(p: Principal, scope: TokenScope): AppError {
  const why = ROLE_SCOPES[p.role].includes(scope) ? `this token's scopes do not include ${scope}` : `role ${p.role} does not have ${scope}`;
  return new AppError(403, 'forbidden', `${scope}: ${why}`, { scope, role: p.role });
}

/** Route middleware: 403 `forbidden` naming the scope unless the caller has it. Mounted after requireUser. */
export function requireScope(scope: TokenScope): MiddlewareHandler<AuthEnv> {
  return async function requireScopeHandler(c, next) {
    const principal = c.get('principal');
    if (!allows(principal, scope)) throw scopeDenied(principal, scope);
    await next();
  };
}

/** The scopes the principal has now: its role's, narrowed by its token's. What GET /v1/me answers. */
export function effectiveScopes(p: Principal): TokenScope[] {
  return ROLE_SCOPES[p.role].filter((scope) => p.scopes === null || p.scopes.includes(scope));
}

/** 403 unless the caller is an admin (and has `scope`): listing users and others' tokens. */
export function requireAdmin(p: Principal, scope: TokenScope, what: string): void {
  if (p.role !== 'admin') throw new AppError(403, 'forbidden', `${what} is for admins; role ${p.role} may not`, { scope, role: p.role });
  if (!allows(p, scope)) throw scopeDenied(p, scope);
}
