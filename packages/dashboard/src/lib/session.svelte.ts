import { VmoApiError, VmoClient } from '@vmo/client';
import { ROLE_SCOPES, USER_ROLES, type TokenScope, type UserRole } from '@vmo/shared/domain';
import { currentHref, navigate, location } from './router.svelte.ts';

/**
 * Who is signed in, and the one VmoClient every page uses.
 *
 * The token lives in this origin's localStorage (a link opened in a new tab stays signed in) and is
 * only ever sent in the Authorization header or, for streams, the `bearer.` subprotocol: never in
 * a URL. Behind the trusted login proxy there is no token: `GET /v1/me` answers for the proxy's user.
 * Any 401 (a token that expired or was revoked) signs out and returns to sign-in, keeping the page
 * to come back to.
 */
const TOKEN_KEY = 'vmo.token';

export interface Me {
  id: string | null;
  name: string;
  role: string;
  email?: string | null | undefined;
  /** What this caller may do now (the role's scopes narrowed by the token's); null or absent: all of the role's. */
  scopes?: readonly TokenScope[] | null | undefined;
}

interface SessionState {
  /** undefined until the first check; null: not signed in. */
  me: Me | null | undefined;
  token: string | undefined;
  /** Why the last sign-out happened ("your token has expired …"), shown on the sign-in page. */
  reason: string | undefined;
}

const state = $state<SessionState>({ me: undefined, token: readToken(), reason: undefined });

function readToken(): string | undefined {
  try {
    return window.localStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined; // storage disabled: the token lasts as long as the tab
  }
}

function writeToken(token: string | undefined): void {
  try {
    if (token === undefined) window.localStorage.removeItem(TOKEN_KEY);
    else window.localStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* storage disabled */
  }
}

/** A fetch that turns any 401 into a sign-out: every page's calls go through it. */
const fetchSigningOut: typeof fetch = async (input, init) => {
  const res = await window.fetch(input, init);
  if (res.status === 401) expireSession();
  return res;
};

function makeClient(token: string | undefined): VmoClient {
  return new VmoClient({ baseUrl: window.location.origin, token, fetch: fetchSigningOut, WebSocket: window.WebSocket as never });
}

let current = makeClient(state.token);

export const session = {
  get me(): Me | null | undefined {
    return state.me;
  },
  get reason(): string | undefined {
    return state.reason;
  },
  /** The API as the signed-in user. */
  get client(): VmoClient {
    return current;
  },
  /**
   * Whether the signed-in caller may do what `scope` allows (`jobs:run` submits jobs, runs and
   * schedules; `jobs:cancel`; `agents:write`; `hosts:write`…): the one question every page asks
   * before showing a control, so nobody is offered a button the API would answer with 403. GET
   * /v1/me's `scopes` is the role narrowed by the token (an operator's `jobs:read`-only token runs
   * nothing); without it, the role's. Policies may still refuse a given target: the API says so.
   */
  can(scope: TokenScope): boolean {
    const me = state.me;
    if (!me) return false;
    const scopes = me.scopes ?? (isRole(me.role) ? ROLE_SCOPES[me.role] : []);
    return scopes.includes(scope);
  },
};

function isRole(role: string): role is UserRole {
  return (USER_ROLES as readonly string[]).includes(role);
}

/** At start: who the stored token (or the login proxy) says we are. */
export async function restoreSession(): Promise<void> {
  if (state.token === undefined && !(await signedInByProxy())) {
    state.me = null; // nothing to ask: no 401 in the console for a plain signed-out visit
    return;
  }
  try {
    state.me = await current.users.me();
  } catch (err) {
    if (state.token !== undefined && err instanceof VmoApiError && err.status === 401) state.reason = 'Your stored token is no longer valid: sign in again.';
    state.me = null;
  }
}

async function signedInByProxy(): Promise<boolean> {
  try {
    const res = await window.fetch('/dashboard.json', { cache: 'no-store' });
    return res.ok && ((await res.json()) as { signedInByProxy?: unknown }).signedInByProxy === true;
  } catch {
    return false;
  }
}

/** Check the token with GET /v1/me, then keep it. Throws the API's error (its message is shown). */
export async function signIn(token: string): Promise<void> {
  const candidate = makeClient(token);
  const me = await candidate.users.me();
  writeToken(token);
  state.token = token;
  current = candidate;
  state.me = me;
  state.reason = undefined;
}

/** Forget the token; `next` is the page sign-in returns to. */
export function signOut(reason?: string, next?: string): void {
  writeToken(undefined);
  state.token = undefined;
  current = makeClient(undefined);
  state.me = null;
  state.reason = reason;
  navigate(next === undefined ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`, { replace: next !== undefined });
}

const SESSION_ENDED = 'Your session has ended (the token expired or was revoked): sign in again.';

/**
 * The credential stopped working while signed in: sign out, back to sign-in saying why, and back
 * to this page after. Any 401 of the REST calls ends up here, and so does a stream closed 4401
 * (session-end.ts `endsSession`): a job console following to the end makes no REST call to notice.
 */
export function expireSession(reason = SESSION_ENDED): void {
  if (!state.me) return; // signed out already (or never in): nothing to end
  signOut(reason, location.path === '/sign-in' ? undefined : currentHref());
}

