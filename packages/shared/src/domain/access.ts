/** Who may do what (issue 11). Pure: the contracts load it. */
export const USER_ROLES = ['admin', 'operator', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** What a policy grants on the targets its selector matches. */
export const POLICY_ACTIONS = ['read', 'run', 'cancel'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/**
 * Token scopes: each narrows what the token's user may do, never widens it (an operator's token
 * with `agents:write` still cannot write agents). A token without scopes has all of its user's.
 */
export const TOKEN_SCOPES = ['jobs:read', 'jobs:run', 'jobs:cancel', 'agents:read', 'agents:write', 'hosts:read', 'hosts:write', 'users:read', 'users:write', 'policies:write', 'audit:read', 'commands:read', 'commands:write', 'workspaces:read', 'workspaces:write'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/**
 * What each role may do at all; a token's scopes narrow it, never widen it. Policies further
 * restrict operators and viewers per target (admins bypass them). An operator's `users:read` is
 * themselves only (GET /v1/me): listing users is for admins. `workspaces:write` is an operator's own
 * workspaces (and writing templates is an admin's, checked by the routes); `workspaces:read` reads them and templates.
 */
export const ROLE_SCOPES: Readonly<Record<UserRole, readonly TokenScope[]>> = {
  admin: TOKEN_SCOPES,
  operator: ['jobs:read', 'jobs:run', 'jobs:cancel', 'agents:read', 'hosts:read', 'users:read', 'commands:read', 'commands:write', 'workspaces:read', 'workspaces:write'],
  viewer: ['jobs:read', 'agents:read', 'hosts:read', 'commands:read', 'workspaces:read'],
};

export const AUDIT_RESULTS = ['allowed', 'denied', 'failed'] as const;
export type AuditResult = (typeof AUDIT_RESULTS)[number];

/** Who acted, as audit rows and `createdBy` record it. */
export const ACTOR_KINDS = ['user', 'bootstrap', 'proxy', 'agent', 'anonymous', 'system'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];
