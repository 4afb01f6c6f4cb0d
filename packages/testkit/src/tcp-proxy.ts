import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/** Postgres's ReadyForQuery message header ('Z', length 5); its status byte follows. */
const READY_FOR_QUERY = Buffer.from([0x5a, 0, 0, 0, 5]);

/** One proxied connection: the client's socket, the upstream socket, and what a stall held back. */
interface Link {
  client: Socket;
  upstream: Socket;
  /** `null` data: the sender ended its side. */
  held: { to: Socket; data: Buffer | null }[];
  /** Set by `freezeOpen` or `freezeWhen`: this path is dead for good (nothing forwarded, nothing closed, ever). */
  frozen?: boolean;
  /** The first bytes the client sent (what `freezeWhen` looks for in a connection already open). */
  opening: Buffer;
  /** Set by `losePostgresAnswer` once the statement went by on this link. */
  loseAnswer?: { commandTag: Buffer; withholding: boolean; lost: () => void };
}

/**
 * A loopback TCP proxy to a real service (Postgres, Redis, an API node) that a test can break in
 * the ways networks break:
 *
 * - `cut()`: reset every open connection and refuse new ones until `restore()` (the peer is gone);
 * - `refuseNew()`: keep open connections, refuse new ones;
 * - `dropOpen()`: reset every open connection, keep accepting new ones;
 * - `stall()`: keep every connection open but forward nothing, in either direction, until
 *   `restore()` (a black hole: packets vanish, nobody is told);
 * - `freezeOpen()`: the connections open now forward nothing and are never closed, even after
 *   `restore()`, while new ones work (their path died without a word: a lost NAT or conntrack
 *   entry, an address moved to another machine). Only the client's own deadline gets it out.
 *
 * Refused connections are accepted and reset at once, so the port stays bound (restoring is
 * instant and nothing else can take the port meanwhile).
 *
 * Resets (RST), not clean closes (FIN): postgres.js 3.4.9 never settles a query whose connection
 * gets a FIN during its startup and reconnects in a tight loop (porsager/postgres#1193), which
 * would hang the test rather than exercise our code.
 */
export class TcpProxy {
  private readonly links = new Set<Link>();
  private accepting = true;
  private stalled = false;
  /** Connections refused while cut: something to wait on instead of sleeping. */
  refused = 0;
  /** Connections accepted and forwarded (or held while stalled). */
  accepted = 0;
  private answerToLose: { statement: Buffer; commandTag: Buffer; lost: () => void } | undefined;
  private freezeMark: Buffer | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new TcpProxy(server, (server.address() as AddressInfo).port, targetPort, targetHost);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** `http://127.0.0.1:<port>`: handy when the target is an HTTP/WebSocket server. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get openConnections(): number {
    return this.links.size;
  }

  /** Reset every open connection and refuse new ones until `restore()`. */
  cut(): void {
    this.accepting = false;
    this.dropOpen();
  }

  /** Refuse new connections until `restore()`; open ones carry on. */
  refuseNew(): void {
    this.accepting = false;
  }

  /** Reset every open connection; new ones are still accepted. */
  dropOpen(): void {
    for (const link of this.links) {
      link.client.resetAndDestroy();
      link.upstream.resetAndDestroy();
    }
    this.links.clear();
  }

  /** Forward nothing (open and new connections alike) until `restore()`; nothing is closed. */
  stall(): void {
    this.stalled = true;
  }

  /** Every connection open now is a dead path for good (see the class comment); new ones work. */
  freezeOpen(): void {
    for (const link of this.links) this.freeze(link);
  }

  /**
   * Every connection whose client sends `mark` (open ones: among their first bytes; new ones: as
   * soon as it goes by) goes dead for good, as in `freezeOpen`; the others work. For one kind of
   * connection of a process dying again and again while its others answer (a Redis client's
   * `CLIENT SETNAME` at connect names it).
   */
  freezeWhen(mark: string): void {
    this.freezeMark = Buffer.from(mark);
    for (const link of this.links) if (link.opening.includes(this.freezeMark)) this.freeze(link);
  }

  private freeze(link: Link): void {
    link.frozen = true;
    link.client.pause();
    link.upstream.pause();
  }

  /** Back to normal: accept, and deliver what a stall held back, in order (frozen connections stay dead). */
  restore(): void {
    this.accepting = true;
    if (!this.stalled) return;
    this.stalled = false;
    for (const link of this.links) {
      if (link.frozen) continue;
      for (const { to, data } of link.held.splice(0)) if (!to.destroyed) data ? to.write(data) : to.end();
      link.client.resume();
      link.upstream.resume();
    }
  }

  /**
   * Postgres only: the next statement whose text contains `statement` runs and commits, but its
   * answer never reaches the client. From the server's chunk holding `commandTag` (`UPDATE 1`) on,
   * nothing is forwarded, and once the server's ReadyForQuery has come (the statement's implicit
   * transaction is over) the connection is reset. Resolves when that has happened. Once only; the
   * text is sent when a connection first prepares the statement, so use it on a fresh system.
   */
  losePostgresAnswer(statement: string, commandTag: string): Promise<void> {
    return new Promise((resolve) => (this.answerToLose = { statement: Buffer.from(statement), commandTag: Buffer.from(commandTag), lost: resolve }));
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => {});
    if (!this.accepting) {
      this.refused++;
      client.resetAndDestroy();
      return;
    }
    this.accepted++;
    const upstream = connect(this.targetPort, this.targetHost);
    upstream.on('error', () => {});
    const link: Link = { client, upstream, held: [], opening: Buffer.alloc(0) };
    this.links.add(link);
    const end = () => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    this.forward(link, client, upstream);
    this.forward(link, upstream, client);
  }

  /**
   * Hand-rolled instead of `pipe()`: a piped source is resumed by the destination's 'drain',
   * which would defeat a stall. While stalled, the source is paused after what it already read
   * (kept in `held`), so the kernel buffers fill and the sender blocks, as on a dead path.
   */
  private forward(link: Link, from: Socket, to: Socket): void {
    from.on('data', (data: Buffer) => {
      const lose = link.loseAnswer;
      if (from === link.upstream && lose && (lose.withholding || data.includes(lose.commandTag))) {
        lose.withholding = true;
        if (data.includes(READY_FOR_QUERY)) {
          link.client.resetAndDestroy();
          link.upstream.resetAndDestroy();
          lose.lost();
        }
        return;
      }
      if (from === link.client && link.opening.length < 1024) link.opening = Buffer.concat([link.opening, data]).subarray(0, 1024);
      if (from === link.client && this.freezeMark && data.includes(this.freezeMark) && !link.frozen) this.freeze(link);
      if (from === link.client && this.answerToLose && data.includes(this.answerToLose.statement)) {
        link.loseAnswer = { commandTag: this.answerToLose.commandTag, withholding: false, lost: this.answerToLose.lost };
        this.answerToLose = undefined;
      }
      if (this.stalled || link.frozen) {
        link.held.push({ to, data });
        from.pause();
        return;
      }
      if (!to.write(data)) from.pause();
    });
    to.on('drain', () => {
      if (!this.stalled && !link.frozen) from.resume();
    });
    from.on('end', () => {
      if (this.stalled || link.frozen) link.held.push({ to, data: null });
      else to.end();
    });
  }
}
