import { forbidden, unauthorized } from '@vmo/shared/errors';
import { tokenKind } from '@vmo/shared/tokens';
import type { Principal } from './principal.ts';
import type { AuthRequest } from './proxy-identity.ts';
import type { TokenStore } from './token-store.ts';

/** Every refusal of a credential says this and no more: not whether the token or user exists, was revoked, expired or disabled. */
export const INVALID_CREDENTIAL = 'the token is not valid';

/**
 * The one check of who is calling, for REST requests (requireUser) and stream upgrades
 * (server.ts, run-stream-upgrade.ts) alike; each finds the token where its endpoint takes it.
 *
 * 1. A trusted proxy's user header (ProxyIdentity) is the identity, unless a vmo token is also
 *    given (a CLI behind the proxy): then the token, with its scopes. Any other bearer a proxy
 *    forwards (its own OIDC token) is not ours and is ignored.
 * 2. Otherwise the token: 403 for an agent token, 401 for one that is unknown, revoked or
 *    expired, or whose user is disabled.
 * 3. Neither: 401 `missing`.
 */
export async function authenticate(tokens: TokenStore, req: AuthRequest, missing = 'a bearer token is required'): Promise<Principal> {
  const proxied = tokens.proxy?.applies(req) === true;
  const token = req.token;
  if (token !== undefined && (!proxied || tokenKind(token) !== undefined)) {
    if (tokenKind(token) === 'agent') throw forbidden('agent tokens are only accepted on the agent endpoint; use a user token');
    const principal = await tokens.verify(token);
    if (!principal) throw unauthorized(INVALID_CREDENTIAL);
    return principal;
  }
  if (proxied) return tokens.proxy!.resolve(req);
  throw unauthorized(missing);
}
