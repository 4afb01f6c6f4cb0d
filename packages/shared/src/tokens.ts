import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Tokens carry their kind in a prefix so an agent token presented to the REST API (or a user
 * token to the agent endpoint) is refused with a clear message. Only the sha256 is stored:
 * tokens have 256 bits of entropy, so a slow hash would add nothing.
 */
export type TokenKind = 'admin' | 'user' | 'agent' | 'enrolment';
// admin: the bootstrap admin token (VMO_ADMIN_TOKEN may also be any string of its own).
// user: a user's API token (POST /v1/tokens), acting with its user's role now, narrowed by its scopes.
// enrolment: exchanged once by an agent for its own token (POST /v1/agent/enrol); never an agent's credential.
const PREFIX: Record<TokenKind, string> = { admin: 'vmo_adm_', user: 'vmo_usr_', agent: 'vmo_agt_', enrolment: 'vmo_enr_' };

export const generateToken = (kind: TokenKind): string => PREFIX[kind] + randomBytes(32).toString('base64url');

export const tokenKind = (token: string): TokenKind | undefined =>
  (Object.keys(PREFIX) as TokenKind[]).find((k) => token.startsWith(PREFIX[k]));

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Constant-time comparison of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** `Authorization: Bearer <token>` → token, or undefined. The scheme is case-insensitive (RFC 9110 §11.1). */
export function bearerToken(header: string | undefined | null): string | undefined {
  const match = /^Bearer +([A-Za-z0-9_\-.~+/]+=*)$/i.exec(header ?? '');
  return match?.[1];
}
