import { describe, expect, it } from 'vitest';
import { TOKEN_SCOPES } from '@vmo/shared/domain';
import { allows, effectiveScopes, scopeDenied } from './permissions.ts';
import type { Principal } from './principal.ts';

const principal = (role: Principal['role'], scopes: Principal['scopes'] = null): Principal => ({ kind: 'user', tokenId: 'tok_x', userId: 'usr_x', name: 'p', role, scopes });

describe('allows: roles, narrowed by token scopes (issue 11 §Identity)', () => {
  it('gives an admin everything, an operator running and reading, a viewer reading', () => {
    expect(TOKEN_SCOPES.every((s) => allows(principal('admin'), s))).toBe(true);
    expect(['jobs:read', 'jobs:run', 'jobs:cancel', 'agents:read', 'hosts:read'].every((s) => allows(principal('operator'), s as never))).toBe(true);
    expect(['agents:write', 'hosts:write', 'users:write', 'policies:write', 'audit:read'].some((s) => allows(principal('operator'), s as never))).toBe(false);
    expect(allows(principal('viewer'), 'jobs:read')).toBe(true);
    expect(allows(principal('viewer'), 'jobs:run')).toBe(false);
    expect(allows(principal('viewer'), 'jobs:cancel')).toBe(false);
  });

  it('narrows by the token, and never widens: a scope the role lacks stays refused', () => {
    expect(allows(principal('admin', ['jobs:read']), 'jobs:run')).toBe(false);
    expect(allows(principal('admin', ['jobs:read']), 'jobs:read')).toBe(true);
    expect(allows(principal('viewer', ['jobs:run']), 'jobs:run')).toBe(false);
    expect(effectiveScopes(principal('viewer', ['jobs:run', 'jobs:read']))).toEqual(['jobs:read']);
    expect(effectiveScopes(principal('operator'))).toEqual(['jobs:read', 'jobs:run', 'jobs:cancel', 'agents:read', 'hosts:read', 'users:read', 'commands:read', 'commands:write', 'workspaces:read', 'workspaces:write']);
    expect(effectiveScopes(principal('operator', ['commands:read']))).toEqual(['commands:read']);
    expect(allows(principal('viewer'), 'commands:read')).toBe(true);
    expect(allows(principal('viewer'), 'commands:write')).toBe(false);
  });

  it('says whether the role or the token lacks the scope, and names it', () => {
    expect(scopeDenied(principal('viewer'), 'jobs:run')).toMatchObject({ status: 403, code: 'forbidden', message: 'jobs:run: role viewer does not have jobs:run', details: { scope: 'jobs:run', role: 'viewer' } });
    expect(scopeDenied(principal('operator', ['jobs:read']), 'jobs:run').message).toBe("jobs:run: this token's scopes do not include jobs:run");
  });
});
