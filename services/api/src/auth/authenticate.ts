import { forbidden, unauthorized } from '@vmo/shared/errors';
import { tokenKind } from '@vmo/shared/tokens';
import type { Principal } from './principal.ts';
import type { TokenStore } from './token-store.ts';

/**
 * The one check of a user token, for REST requests (requireUser) and job-stream upgrades
 * (server.ts) alike; each finds the token where its endpoint takes it. Throws 403 for an agent
 * token, 401 for one that is unknown or revoked; never says more about the token than that.
 */
export async function authenticate(tokens: TokenStore, token: string): Promise<Principal> {
  if (tokenKind(token) === 'agent') throw forbidden('agent tokens are only accepted on the agent endpoint; use a user token');
  const principal = await tokens.verify(token);
  if (!principal) throw unauthorized('the token is not valid');
  return principal;
}
