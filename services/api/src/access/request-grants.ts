import type { Context } from 'hono';
import { loadGrants, type Grants } from '@vmo/shared/access';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { AuthEnv } from '../auth/principal.ts';

const perRequest = new WeakMap<Request, Promise<Grants>>();

/**
 * The caller's grants (@vmo/shared/access), read at most once per request, whatever number of
 * checks a route makes: no query for an admin, one for anyone else. Never kept across requests: a
 * policy deleted on any node binds the next request here.
 */
export function grantsOf(c: Context<AuthEnv>, cp: ControlPlane): Promise<Grants> {
  const request = c.req.raw;
  let grants = perRequest.get(request);
  if (!grants) {
    grants = loadGrants(cp.database.sql, c.get('principal'));
    perRequest.set(request, grants);
  }
  return grants;
}
