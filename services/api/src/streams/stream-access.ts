import type { WebSocket } from 'ws';
import { grantCoversAgent, loadGrants, mayReadAgent, mayReadMachine, runAccess } from '@vmo/shared/access';
import { matchesLabelSelector } from '@vmo/shared/domain';
import type { BusSubscriber } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { AppError } from '@vmo/shared/errors';
import type { Logger } from '@vmo/shared/logger';
import { SubscriberCloseCode } from '@vmo/shared/protocol';
import { authenticate, INVALID_CREDENTIAL } from '../auth/authenticate.ts';
import { allows } from '../auth/permissions.ts';
import { principalKey, type Principal } from '../auth/principal.ts';
import type { AuthRequest } from '../auth/proxy-identity.ts';
import type { TokenStore } from '../auth/token-store.ts';
import { assertJobVisible } from './stream-upgrade.ts';

/**
 * How often every open stream's access is checked again even when no `access_changed` message
 * came: the backstop for a lost message (BUS.md §7) and for what publishes none (an agent's or a
 * host's labels changed under a policy's selector).
 */
export const STREAM_ACCESS_RECHECK_MS = 15_000;
/** At most this many streams are checked at once, so a re-check of thousands does not take the whole database pool. */
const CONCURRENT_CHECKS = 4;

export interface StreamResource {
  /**
   * `events`: the events feed (events-upgrade.ts), which names nothing: only its credential is checked again.
   * `shell`: an interactive shell (shells/shell-upgrade.ts), whose check is its upgrade's: jobs:run,
   * may still read and run on the agent, and (a non-admin) still owns the session.
   */
  kind: 'job' | 'run' | 'events' | 'shell';
  /** The job's, run's or shell session's id; '' for the events feed. */
  id: string;
  /** For a shell: the agent it runs on. */
  agentId?: string;
  /** For an SSH host's shell: the host. */
  hostId?: string;
  /** For a workspace's shell (on its agent, `agentId`): the workspace, whose owner and admins may hold it. */
  workspaceId?: string;
}

interface Watched {
  ws: WebSocket;
  /** The upgrade's credential as authenticate() saw it: the token, the peer, the headers. */
  auth: AuthRequest;
  /** Who the upgrade authenticated: a proxy user is looked up again by name, never re-created (ProxyIdentity.current). */
  principal: Principal;
  resource: StreamResource;
  expiry?: NodeJS.Timeout;
}

type Verdict = 'allowed' | 'unauthorized' | 'hidden';

/**
 * Open job and run streams, the events feed and interactive shells end when their subscriber's access ends (issue 11: an expired or
 * revoked token is 401 at once, and a job one may not see is 404 on streams as on REST).
 *
 * An upgrade checks its credential and the caller's right to read the job or run once; the
 * stream then lives for as long as the job. So every open stream is registered here and checked
 * again, as its upgrade was (authenticate() with the same token; a proxy's user looked up again
 * by name, ProxyIdentity.current, without creating or changing it; then the same visibility
 * check), when:
 * - an `access_changed` control message arrives (a token revoked, a user disabled or its role
 *   changed, a policy deleted: BUS.md §6), on every API node;
 * - its token's `expiresAt` passes (a timer per stream, from Postgres' clock);
 * - every STREAM_ACCESS_RECHECK_MS, for a lost message (pub/sub is at most once) and for changes
 *   that publish nothing (labels).
 *
 * A stream whose credential no longer authenticates is closed 4401 with the 401's message; one
 * whose caller may no longer read it is closed 4404 "no such job/run", the same words as for a job
 * that does not exist (no existence oracle). A reconnect then gets the 401 or 404 at the upgrade.
 * A check that fails for a store outage leaves the stream open until the next one.
 *
 * LOUD: the token is kept in memory for the stream's life (as the socket's own upgrade request
 * was) and is never logged: log lines name the job or run and the verdict only.
 */
export class StreamAccess {
  private readonly watched = new Set<Watched>();
  /** access_changed messages heard so far: an upgrade notes it before authenticating (see watch()). */
  private heard = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly tick: NodeJS.Timeout;
  private unlisten: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly deps: { cp: ControlPlane; tokens: TokenStore; log: Logger },
    recheckMs = STREAM_ACCESS_RECHECK_MS,
  ) {
    this.tick = setInterval(() => this.recheckAll(), recheckMs);
    this.tick.unref();
  }

  /** Hear `access_changed` on the control channel. Best effort: without it the periodic re-check still runs. */
  async listen(bus: BusSubscriber): Promise<void> {
    try {
      const off = await bus.control((msg) => {
        if (msg.type !== 'access_changed') return;
        this.heard++;
        this.recheckAll();
      });
      if (this.stopped) off();
      else this.unlisten = off;
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'stream access: could not listen for access changes; open streams are re-checked every 15 s');
    }
  }

  /** Taken before an upgrade authenticates and handed to watch(): a change heard in between is checked for at once. */
  get generation(): number {
    return this.heard;
  }

  /**
   * Watch a stream that was just accepted with `principal` (authenticated from `auth`), until its
   * socket closes. `generation`: this.generation before the upgrade authenticated; an access
   * change heard since then may have come before the stream was here to be checked.
   */
  watch(ws: WebSocket, opts: { auth: AuthRequest; principal: Principal; resource: StreamResource; generation: number }): void {
    if (this.stopped) return;
    const entry: Watched = { ws, auth: opts.auth, principal: opts.principal, resource: opts.resource };
    this.watched.add(entry);
    ws.once('close', () => this.forget(entry));
    if (opts.principal.tokenId !== null) void this.closeAtExpiry(entry, opts.principal.tokenId);
    if (this.heard !== opts.generation) void this.check([entry]);
  }

  /** Check every open stream now; a request while a round runs makes one more round after it. */
  recheckAll(): void {
    if (this.stopped || this.watched.size === 0) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.check([...this.watched]);
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.tick);
    this.unlisten?.();
    for (const entry of this.watched) clearTimeout(entry.expiry);
    this.watched.clear();
  }

  private forget(entry: Watched): void {
    clearTimeout(entry.expiry);
    this.watched.delete(entry);
  }

  /** A timer at the token's expiresAt, measured on Postgres' clock (the one expiry is judged by). */
  private async closeAtExpiry(entry: Watched, tokenId: string): Promise<void> {
    try {
      const [row] = await this.deps.cp.database.sql<{ ms: number | null }[]>`
        select (extract(epoch from (expires_at - now())) * 1000)::float8 as ms from api_tokens where id = ${tokenId}`;
      const ms = row?.ms;
      // Past the longest timer node has, the periodic re-check will see it expire anyway.
      if (ms === null || ms === undefined || ms > 2 ** 31 - 1 || !this.watched.has(entry)) return;
      // A little after, so the check finds it expired on Postgres' clock.
      entry.expiry = setTimeout(() => void this.check([entry]), Math.max(0, ms) + 250);
      entry.expiry.unref();
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, [`${entry.resource.kind}Id`]: entry.resource.id }, "stream access: could not read the token's expiry; the periodic re-check covers it");
    }
  }

  /**
   * Check `entries`, CONCURRENT_CHECKS at a time. Within one round a credential is verified once
   * and a principal's right to one job or run looked up once, however many streams share them
   * (a dashboard following one job from many tabs).
   */
  private async check(entries: Watched[]): Promise<void> {
    const principals = new Map<string, Promise<Principal>>();
    const visibility = new Map<string, Promise<void>>();
    const queue = [...entries];
    const worker = async () => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) await this.checkOne(entry, principals, visibility);
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENT_CHECKS, queue.length) }, worker));
  }

  private async checkOne(entry: Watched, principals: Map<string, Promise<Principal>>, visibility: Map<string, Promise<void>>): Promise<void> {
    if (!this.watched.has(entry)) return;
    const { kind, id } = entry.resource;
    let verdict: Verdict;
    try {
      verdict = await this.verdictOf(entry, principals, visibility);
    } catch (err) {
      // A store outage: not a reason to cut anyone; the next round (or message) checks again.
      this.deps.log.warn({ err: (err as Error).message, [`${kind}Id`]: id }, 'stream access: re-check failed; the stream stays open until the next one');
      return;
    }
    if (verdict === 'allowed' || !this.watched.has(entry)) return;
    this.forget(entry);
    this.deps.log.info({ [`${kind}Id`]: id, verdict }, verdict === 'unauthorized' ? 'stream closed: its credential is no longer valid (4401)' : 'stream closed: its subscriber may no longer read it (4404)');
    const { ws } = entry;
    if (ws.readyState !== ws.OPEN && ws.readyState !== ws.CONNECTING) return;
    if (verdict === 'unauthorized') ws.close(SubscriberCloseCode.unauthorized, INVALID_CREDENTIAL);
    else ws.close(SubscriberCloseCode.notFound, kind === 'shell' ? 'no such shell session' : `no such ${kind}`);
  }

  /** The upgrade's checks again (server.ts, run-stream-upgrade.ts): who, jobs:read, then may they see it. */
  private async verdictOf(entry: Watched, principals: Map<string, Promise<Principal>>, visibility: Map<string, Promise<void>>): Promise<Verdict> {
    const proxy = entry.principal.kind === 'proxy' ? this.deps.tokens.proxy : undefined;
    const credential = proxy ? `proxy\0${entry.principal.name}` : `token\0${entry.auth.token ?? ''}`;
    let pending = principals.get(credential);
    if (!pending) {
      pending = proxy ? proxy.current(entry.principal.name) : authenticate(this.deps.tokens, entry.auth);
      pending.catch(() => {}); // awaited below; also by any other stream of the same credential
      principals.set(credential, pending);
    }
    let principal: Principal;
    try {
      principal = await pending;
    } catch (err) {
      if (err instanceof AppError && (err.status === 401 || err.status === 403)) return 'unauthorized';
      throw err;
    }
    // The events feed carries no ids or data: a credential that still authenticates may keep it.
    if (entry.resource.kind === 'events') return 'allowed';
    if (entry.resource.kind === 'shell') return this.shellVerdict(principal, entry.resource);
    if (!allows(principal, 'jobs:read')) return 'hidden';
    const { kind, id } = entry.resource;
    const key = `${principal.kind}\n${principalKey(principal)}\n${principal.role}\n${kind}\n${id}`;
    let visible = visibility.get(key);
    if (!visible) {
      visible = kind === 'job' ? assertJobVisible(this.deps.cp, principal, id) : this.assertRunVisible(principal, id);
      visible.catch(() => {});
      visibility.set(key, visible);
    }
    try {
      await visible;
    } catch (err) {
      if (err instanceof AppError && err.status === 404) return 'hidden';
      throw err;
    }
    return 'allowed';
  }

  /**
   * LOUD: a shell runs commands, so it is held to what opening it needs (shell-upgrade.ts), not to
   * read access: the run scope, the agent still readable and covered by a run grant (an agent
   * revoked since is gone), and a non-admin's own session.
   */
  private async shellVerdict(principal: Principal, resource: StreamResource): Promise<Verdict> {
    if (!allows(principal, 'jobs:run')) return 'hidden';
    const sql = this.deps.cp.database.sql;
    if (resource.workspaceId !== undefined) {
      // A workspace's shell: judged as its upgrade was, by the workspace (its owner, the admins), not by policies on its agent.
      const [ws] = await sql<{ owner_id: string | null }[]>`
        select w.owner_id from workspaces w join agents a on a.id = w.agent_id and a.revoked_at is null
        where w.id = ${resource.workspaceId} and w.deleted_at is null and w.agent_id = ${resource.agentId ?? ''}`;
      if (!ws) return 'hidden';
      const grants = await loadGrants(sql, principal);
      if (grants.admin) return 'allowed';
      if (ws.owner_id !== principal.userId) return 'hidden';
    } else if (resource.hostId !== undefined) {
      // An SSH host's shell: the host still exists, readable and covered by a run grant (as POST /v1/jobs judges it).
      const [host] = await sql<{ labels: Record<string, string> }[]>`select labels from hosts where id = ${resource.hostId}`;
      if (!host) return 'hidden';
      const grants = await loadGrants(sql, principal);
      if (grants.admin) return 'allowed';
      if (!mayReadMachine(grants, host.labels) || !grants.run.selectors.some((s) => matchesLabelSelector(s, host.labels))) return 'hidden';
    } else {
      const [agent] = await sql<{ labels: Record<string, string> }[]>`
        select labels from agents where id = ${resource.agentId ?? ''} and revoked_at is null`;
      if (!agent) return 'hidden';
      const grants = await loadGrants(sql, principal);
      if (grants.admin) return 'allowed';
      if (!mayReadAgent(grants, agent.labels) || !grantCoversAgent(grants.run, agent.labels)) return 'hidden';
    }
    const [own] = await sql<{ user_id: string | null }[]>`select user_id from shell_sessions where id = ${resource.id}`;
    return own && own.user_id === principal.userId ? 'allowed' : 'hidden';
  }

  private async assertRunVisible(principal: Principal, runId: string): Promise<void> {
    const sql = this.deps.cp.database.sql;
    await runAccess(sql, await loadGrants(sql, principal), runId);
  }
}
