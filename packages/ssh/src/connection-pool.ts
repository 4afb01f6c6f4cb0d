import type { Logger } from '@vmo/shared/logger';
import type { OpenConnection } from './open-route.ts';
import { routeKey, type SshRoute } from './ssh-endpoint.ts';
import { SshError } from './ssh-error.ts';

export interface PoolOptions {
  /** Close a connection this long after its last channel ended (VMO_SSH_IDLE_MS). */
  idleMs: number;
  /** Sessions at once per connection (VMO_SSH_MAX_CHANNELS); keep below sshd's MaxSessions (10). */
  maxChannels: number;
  /** Dial a route; `signal` aborts when every job waiting for this dial has gone (cancel, timeout). */
  open: (route: SshRoute, signal: AbortSignal) => Promise<OpenConnection>;
  log: Logger;
}

/** A share of a pooled connection: one session slot, given back with release(). */
export interface Lease {
  connection: OpenConnection;
  /** Keep the connection open without a slot (a pending SIGKILL); call the result when done. */
  hold(): () => void;
  release(): void;
}

interface Entry {
  key: string;
  ready: Promise<OpenConnection>;
  connection?: OpenConnection;
  /** Jobs awaiting `ready`; when the last one leaves before it settles, the dial is abandoned. */
  dialWaiters: number;
  abandonDial: AbortController;
  active: number;
  holds: number;
  waiters: { grant: () => void; retry: () => void }[];
  idleTimer?: NodeJS.Timeout;
  dead: boolean;
}

/**
 * One SSH connection per route, shared by every job to that host, sessions multiplexed on it as
 * OpenSSH's ControlMaster does. Jobs beyond `maxChannels` wait in order for a slot.
 *
 * A failed connect is never cached: the entry is dropped, everyone waiting on that attempt gets
 * the error, and the next job dials again. A connection that closes is dropped the same way;
 * jobs still queued on it retry on a fresh one.
 */
export class SshConnectionPool {
  private readonly entries = new Map<string, Entry>();
  private closing = false;
  /** Connections dialled so far (tests and metrics). */
  opened = 0;

  constructor(private readonly opts: PoolOptions) {}

  /**
   * A session slot on a connection to `route`. `trusts(connection)` says whether a live connection
   * may still be used (its verified host key is still acceptable); if not, it is retired and a new
   * one is verified from scratch.
   */
  async acquire(route: SshRoute, trusts: (c: OpenConnection) => boolean, signal?: AbortSignal): Promise<Lease> {
    const key = routeKey(route);
    for (;;) {
      if (this.closing) throw new SshError('ssh_connect_failed', 'the worker is shutting down');
      signal?.throwIfAborted();
      let entry = this.entries.get(key);
      if (entry?.connection && !trusts(entry.connection)) {
        this.retire(entry);
        entry = undefined;
      }
      entry ??= this.dial(key, route);
      const connection = await this.awaitDial(entry, signal); // a connect error propagates to every waiter of this attempt
      if (entry.dead) continue;
      if (entry.active < this.opts.maxChannels) return this.grant(entry, connection);
      const granted = await this.waitForSlot(entry, signal);
      if (granted) return this.lease(entry, connection);
    }
  }

  /** Close every connection now (worker shutdown). */
  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.entries.values()];
    for (const e of all) this.retire(e, true);
    await Promise.all(all.map((e) => e.ready.then((c) => c.closed, () => undefined)));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Sessions in use on the pool's connections (metrics, read at scrape time). */
  get channelsInUse(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.active;
    return n;
  }

  private dial(key: string, route: SshRoute): Entry {
    this.opened++;
    const abandonDial = new AbortController();
    const entry: Entry = { key, ready: this.opts.open(route, abandonDial.signal), dialWaiters: 0, abandonDial, active: 0, holds: 0, waiters: [], dead: false };
    this.entries.set(key, entry);
    entry.ready.then(
      (connection) => {
        entry.connection = connection;
        void connection.closed.then(() => this.drop(entry));
        this.maybeIdle(entry); // nobody may be left to lease it (they all left while it dialled)
      },
      () => this.drop(entry),
    );
    return entry;
  }

  /**
   * LOUD: cancel and timeout must win over a connection that is slow to set up (a stuck key read,
   * DNS, a host that accepts TCP and never speaks). A job stops waiting the moment its signal
   * aborts; when no job waits any more, the dial itself is abandoned and the entry forgotten, so
   * the next job dials afresh instead of joining a dial nobody wanted.
   */
  private awaitDial(entry: Entry, signal: AbortSignal | undefined): Promise<OpenConnection> {
    signal?.throwIfAborted();
    entry.dialWaiters++;
    return new Promise<OpenConnection>((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return false;
        left = true;
        entry.dialWaiters--;
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const onAbort = () => {
        if (!leave()) return;
        if (entry.dialWaiters === 0 && !entry.connection && !entry.dead) {
          if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
          entry.dead = true;
          entry.abandonDial.abort(new SshError('ssh_connect_failed', 'connection setup abandoned: no job waits for it any more'));
        }
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.ready.then(
        (c) => {
          if (leave()) resolve(c);
        },
        (err) => {
          if (leave()) reject(err);
        },
      );
    });
  }

  private grant(entry: Entry, connection: OpenConnection): Lease {
    entry.active++;
    clearTimeout(entry.idleTimer);
    return this.lease(entry, connection);
  }

  private lease(entry: Entry, connection: OpenConnection): Lease {
    let released = false;
    return {
      connection,
      hold: () => {
        entry.holds++;
        let done = false;
        return () => {
          if (done) return;
          done = true;
          entry.holds--;
          this.maybeIdle(entry);
        };
      },
      release: () => {
        if (released) return;
        released = true;
        const next = entry.waiters.shift();
        if (next) return next.grant(); // the slot passes on; `active` is unchanged
        entry.active--;
        this.maybeIdle(entry);
      },
    };
  }

  /** Resolves true with a slot, false if the connection went away (the caller retries). */
  private waitForSlot(entry: Entry, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(true);
        },
        retry: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(false);
        },
      };
      const onAbort = () => {
        entry.waiters.splice(entry.waiters.indexOf(waiter), 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.waiters.push(waiter);
    });
  }

  /** Once nothing uses the connection: close it if retired, else start the idle clock. */
  private maybeIdle(entry: Entry): void {
    if (entry.active > 0 || entry.holds > 0 || entry.waiters.length > 0) return;
    if (entry.dead) return entry.connection?.close();
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => this.retire(entry), this.opts.idleMs);
    entry.idleTimer.unref();
  }

  /** Take out of service: no new leases, waiters go elsewhere; closed now if `now` or idle, else after its last session. */
  private retire(entry: Entry, now = false): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    entry.dead = true;
    clearTimeout(entry.idleTimer);
    for (const w of entry.waiters.splice(0)) w.retry();
    if (now && !entry.connection) entry.abandonDial.abort(new SshError('ssh_connect_failed', 'the worker is shutting down'));
    if (now) entry.ready.then((c) => c.close(), () => {});
    else this.maybeIdle(entry);
  }

  private drop(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    entry.dead = true;
    clearTimeout(entry.idleTimer);
    for (const w of entry.waiters.splice(0)) w.retry();
    if (entry.connection) this.opts.log.debug({ route: entry.key }, 'ssh connection closed');
  }
}
