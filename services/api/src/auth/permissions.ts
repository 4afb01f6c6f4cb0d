import type { MiddlewareHandler } from 'hono';
import type { TokenScope, UserRole } from '@vmo/shared/domain';
import { TOKEN_SCOPES } from '@vmo/shared/domain';
import { AppError } from '@vmo/shared/errors';
import type { AuthEnv, Principal } from './principal.ts';

/**
 * What each role may do at all. Policies (packages/shared/src/access) further restrict operators
 * and viewers per target; admins bypass them. `users:read` for an operator means themselves only
 * (GET /v1/me), which needs no scope: the user routes require `users:write`/admin.
 */
export const ROLE_SCOPES: Readonly<Record<UserRole, readonly TokenScope[]>> = {
  admin: TOKEN_SCOPES,
  operator: ['jobs:read', 'jobs:run', 'jobs:cancel', 'agents:read', 'hosts:read', 'users:read'],
  viewer: ['jobs:read', 'agents:read', 'hosts:read'],
};

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
