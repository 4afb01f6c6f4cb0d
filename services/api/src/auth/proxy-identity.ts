import type { AuditEvent } from '@vmo/shared/audit';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { UserRole } from '@vmo/shared/domain';
import { badRequest, unauthorized } from '@vmo/shared/errors';
import { findUser, proxyUser, UserEmail, UserName } from '@vmo/shared/users';
import { proxyUserEvent } from '../http/audit-event.ts';
import type { Principal } from './principal.ts';
import type { TrustedProxies } from './trusted-proxies.ts';

export interface ProxyIdentitySettings {
  /** VMO_TRUSTED_PROXIES: only a request whose socket peer is one of these may name its user by header. */
  trusted: TrustedProxies;
  /** VMO_USER_HEADER (default X-VM-User). */
  userHeader: string;
  /** VMO_EMAIL_HEADER (default X-VM-Email). */
  emailHeader: string;
  /** VMO_PROXY_DEFAULT_ROLE (default viewer): the role of a user created on first sight. */
  defaultRole: UserRole;
}

/** A request as authentication sees it, REST and WebSocket upgrades alike. */
export interface AuthRequest {
  /** The bearer token, wherever the endpoint takes it; undefined when none was given. */
  token: string | undefined;
  /** The socket's peer address: never a forwarded header, which anyone can write. */
  peer: string | undefined;
  /** Every value of a request header (by name, any case): a header sent twice gives two. */
  header(name: string): string[];
}

/** What resolving a proxy identity did to the users table: the audit records it (http/audit.ts). */
export type ProxyUserChange = 'created' | 'updated';

const changes = new WeakMap<Principal, ProxyUserChange>();

/** Whether this principal's request created its user (first sight) or updated its email; undefined when neither. */
export const proxyUserChangeOf = (principal: Principal | undefined): ProxyUserChange | undefined => (principal ? changes.get(principal) : undefined);

/**
 * The one home of "a proxy user first seen (or its email changed) is on record": the
 * `users.create` / `users.update` row, by that user, for whatever request resolved it (a REST
 * call or a WebSocket upgrade: issue 11 says the header opens streams too). Recorded once per
 * principal, however many times it is called; `store` writes the row (http/audit.ts storeOrLog).
 */
export async function recordProxyUserChange(
  principal: Principal | undefined,
  store: (event: AuditEvent) => Promise<void>,
  where: { sourceIp: string | null; requestId: string | null },
): Promise<void> {
  const change = proxyUserChangeOf(principal);
  if (!principal || !change) return;
  changes.delete(principal);
  await store(proxyUserEvent(principal, change, where.sourceIp, where.requestId));
}

/**
 * The user an auth proxy in front of the API vouches for (oauth2-proxy's X-Forwarded-User, set
 * here as X-VM-User): a request whose socket peer is a trusted proxy and which carries the user
 * header is that user, created on first sight with the default role. The same header from any
 * other address is ignored, as if absent: whoever can reach the API directly could write it.
 */
export class ProxyIdentity {
  constructor(
    private readonly cp: ControlPlane,
    readonly settings: ProxyIdentitySettings,
  ) {}

  /** True when this request's identity is the proxy's to give: a trusted peer that sent the user header. */
  applies(req: AuthRequest): boolean {
    return this.settings.trusted.has(req.peer) && req.header(this.settings.userHeader).length > 0;
  }

  /** The principal of a request `applies()` accepted; 401 for a disabled user (said as for any refusal). */
  async resolve(req: AuthRequest): Promise<Principal> {
    const { userHeader, emailHeader, defaultRole } = this.settings;
    const names = req.header(userHeader);
    // LOUD: a header sent twice may be one the client wrote and one the proxy added. Trusting
    // either would let a client choose who it is; refuse instead (a proxy must set, not append).
    if (names.length !== 1) throw unauthorized(`${userHeader}: the auth proxy sent it more than once; it must replace any value the client sent`);
    const parsed = UserName.safeParse(names[0]);
    // The value is not echoed: header values stay out of answers and logs.
    if (!parsed.success) throw badRequest('validation_failed', `${userHeader}: the auth proxy's user header is not a valid user name (${parsed.error.issues[0]?.message ?? 'invalid'})`, { field: userHeader });
    const emails = req.header(emailHeader);
    const email = emails.length === 1 ? UserEmail.safeParse(emails[0]) : undefined;
    const sentEmail = email?.success ? email.data : null;
    // Looked up first so the audit knows whether this request created the user or changed its
    // email (proxyUser does not say); the usual case (known user, same email) costs this one query.
    const known = await findUser(this.cp, parsed.data);
    const unchanged = known !== undefined && (sentEmail === null || known.email === sentEmail);
    const user = unchanged ? known : await proxyUser(this.cp, parsed.data, sentEmail, defaultRole);
    if (user.disabled) throw unauthorized('the token is not valid');
    const principal: Principal = { kind: 'proxy', tokenId: null, userId: user.id, name: user.name, role: user.role, scopes: null };
    // Two first requests at once both find no user; each is told 'created' (one row too many, none missing).
    if (!unchanged) changes.set(principal, known ? 'updated' : 'created');
    return principal;
  }

  /**
   * The user the proxy named for an open stream (streams/stream-access.ts), as that user is NOW,
   * read only: a re-check must never create or change a user, as resolve() would for a name
   * that no longer names one (renamed) or an email an admin changed since. 401 when the name
   * names no user any more or the user is disabled; a reconnect then goes through resolve().
   */
  async current(name: string): Promise<Principal> {
    const user = await findUser(this.cp, name);
    if (!user || user.name !== name || user.disabled) throw unauthorized('the token is not valid');
    return { kind: 'proxy', tokenId: null, userId: user.id, name: user.name, role: user.role, scopes: null };
  }
}
