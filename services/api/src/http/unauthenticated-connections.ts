import { isIPv6, type Socket } from 'node:net';
import { AppError, errorBody } from '@vmo/shared/errors';
import type { Logger } from '@vmo/shared/logger';

/**
 * Where a connection is, for the per-address limit:
 * - `waiting`: on the client (for headers, for its next request, or after an answer that did not
 *   authenticate). Once it has waited `slowAfterMs` it is *slow* and counts;
 * - `serving`: a complete request is ours to answer (authenticating it, for one). The request and
 *   upgrade deadlines bound that time;
 * - `authenticated`: a request or upgrade on it was authenticated: it never counts again.
 */
type State = 'waiting' | 'serving' | 'authenticated';
interface Tracking {
  state: State;
  key: string;
  owner: UnauthenticatedConnections;
  /** Counted against its address (it waited past slowAfterMs). */
  slow: boolean;
  timer?: NodeJS.Timeout;
}
const TRACKING = Symbol('vmo.connectionTracking');
const REFUSED = Symbol('vmo.refused');
type Tracked = Socket & { [TRACKING]?: Tracking; [REFUSED]?: true };

/**
 * Caps, per client address, the connections that keep the server waiting without having
 * authenticated (slowloris). The deadlines cut each of them in the end; this keeps one address
 * from holding thousands meanwhile: a connection that has waited `slowAfterMs` (a legitimate
 * client has sent its request long before) counts, and one that would be the (max+1)th slow one
 * of its address is answered 429 and closed.
 *
 * Counting only slow connections, rather than every connection from accept, is what keeps a burst
 * harmless: 200 agents behind one NAT address reconnecting at once, or a client opening many
 * connections in parallel, are all accepted, and a quick request from the address of a slow
 * client is still served.
 */
export class UnauthenticatedConnections {
  private readonly slowPerAddress = new Map<string, number>();
  private refusedSinceWarn = 0;
  private lastWarnAt = 0;

  constructor(
    private readonly maxPerAddress: number,
    private readonly slowAfterMs: number,
    private readonly log: Logger,
  ) {}

  /** For `server.on('connection')`. */
  readonly admit = (socket: Socket): void => {
    if (this.maxPerAddress === 0) return;
    const t: Tracking = { state: 'waiting', key: addressKey(socket.remoteAddress), owner: this, slow: false };
    (socket as Tracked)[TRACKING] = t;
    this.startWaiting(socket, t);
    socket.once('close', () => this.stopWaiting(t, 'authenticated'));
  };

  /** A complete request (or upgrade) arrived: ours to answer, it does not count meanwhile. */
  serving(socket: Socket): void {
    const t = this.tracking(socket);
    if (t?.state === 'waiting') this.stopWaiting(t, 'serving');
  }

  /** Answered without authenticating (health, a 401, a refused upgrade): waiting on the client again. */
  waiting(socket: Socket): void {
    const t = this.tracking(socket);
    if (t?.state === 'serving' && !socket.destroyed) this.startWaiting(socket, t);
  }

  /** A request or upgrade on it was authenticated: it never counts again. */
  authenticated(socket: Socket): void {
    const t = this.tracking(socket);
    if (t && t.state !== 'authenticated') this.stopWaiting(t, 'authenticated');
  }

  /** Slow connections counted against `remoteAddress` (for tests and metrics). */
  count(remoteAddress: string): number {
    return this.slowPerAddress.get(addressKey(remoteAddress)) ?? 0;
  }

  private tracking(socket: Socket): Tracking | undefined {
    const t = (socket as Tracked)[TRACKING];
    return t?.owner === this ? t : undefined;
  }

  private startWaiting(socket: Socket, t: Tracking): void {
    t.state = 'waiting';
    t.timer = setTimeout(() => {
      t.timer = undefined;
      if ((this.slowPerAddress.get(t.key) ?? 0) >= this.maxPerAddress) return this.refuse(socket, t.key);
      t.slow = true;
      this.add(t.key, 1);
    }, this.slowAfterMs);
    t.timer.unref();
  }

  private stopWaiting(t: Tracking, next: State): void {
    clearTimeout(t.timer);
    t.timer = undefined;
    if (t.slow) this.add(t.key, -1);
    t.slow = false;
    t.state = next;
  }

  private add(key: string, delta: number): void {
    const n = (this.slowPerAddress.get(key) ?? 0) + delta;
    if (n > 0) this.slowPerAddress.set(key, n);
    else this.slowPerAddress.delete(key);
  }

  private refuse(socket: Socket, key: string): void {
    // Node's parser is attached and would still run a request completed after this: the
    // server's request and upgrade handlers drop sockets marked so (isRefused).
    (socket as Tracked)[REFUSED] = true;
    const body = JSON.stringify(errorBody(new AppError(429, 'too_many_connections', 'too many slow connections from your address that have not authenticated; send requests promptly, or retry later')));
    socket.on('error', () => {});
    socket.end(`HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    socket.destroySoon();
    this.refusedSinceWarn++;
    // One line per 10 s at most: a flood must not become a flood of log lines.
    if (Date.now() - this.lastWarnAt >= 10_000) {
      this.log.warn({ address: key, refused: this.refusedSinceWarn, limit: this.maxPerAddress }, 'closed slow unauthenticated connections over the per-address limit');
      this.lastWarnAt = Date.now();
      this.refusedSinceWarn = 0;
    }
  }
}

/** A connection closed over the limit: whatever it sends is never served. */
export const isRefused = (socket: Socket): boolean => (socket as Tracked)[REFUSED] === true;

/** A request or upgrade on this connection was authenticated: it never counts against the limit again. */
export function markAuthenticated(socket: Socket | undefined): void {
  if (socket) (socket as Tracked)[TRACKING]?.owner.authenticated(socket);
}

/**
 * The address a limit applies to: IPv4 as is (also when mapped into IPv6), IPv6 by its /64, the
 * block one subscriber usually gets (counting single IPv6 addresses would be no limit at all).
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
