import { session } from '../../lib/session.svelte.ts';

/**
 * Whether the signed-in caller may register and revoke agents, or add, import and delete hosts:
 * the API requires the `agents:write` / `hosts:write` scope (admins only, and only with a token not
 * narrowed below it). GET /v1/me's `scopes` says what this caller may do now; without it, the role.
 */
export function canWrite(scope: 'agents:write' | 'hosts:write'): boolean {
  const scopes = (session.me as { scopes?: unknown } | null | undefined)?.scopes;
  if (Array.isArray(scopes)) return scopes.includes(scope);
  return session.isAdmin;
}
