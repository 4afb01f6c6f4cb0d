import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  AgentHello,
  AgentToServer,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  decodeOutputFrame,
  type AgentExit,
  type ServerToAgent,
  type ServerWelcome,
} from '@vmo/shared/protocol';

/**
 * A small gateway speaking PROTOCOL.md for the agent's tests: a real `ws` server on an
 * ephemeral port. It stores output chunks by (jobId, seq) like Postgres would (first write
 * wins, duplicates must match) and, unless told otherwise, acks and exit_acks like the real one.
 */
export interface GatewayConnection {
  ws: WebSocket;
  headers: IncomingHttpHeaders;
  hello?: AgentHello;
  closed?: { code: number; reason: string };
  pings: number;
}

export interface ReceivedFrame {
  conn: number;
  msg: AgentToServer;
}

export const AGENT_TOKEN = 'vmo_agt_test-token_123';

export class FakeGateway {
  readonly connections: GatewayConnection[] = [];
  readonly frames: ReceivedFrame[] = [];
  readonly chunks = new Map<string, Map<number, { stream: 1 | 2; data: Buffer }>>();
  /** Every output frame received, in order, with the connection it came on. */
  readonly chunkLog: { conn: number; jobId: string; seq: number }[] = [];
  upgrades = 0;
  autoAck = true;
  autoExitAck = true;
  /** Answer upgrades with this HTTP status instead of accepting them. */
  refuseWith: number | undefined;
  /** The one agent token accepted (any other is 401), as if the server had rotated it. */
  acceptedToken = AGENT_TOKEN;
  heartbeatMs = 10_000;
  /** Called on a hello before the welcome is sent (to send something out of turn). */
  beforeWelcome: ((conn: GatewayConnection) => void) | undefined;
  /** Replaces parts of the default welcome (resume from the stored prefix, abandon nothing). */
  welcomeFor: ((hello: AgentHello) => Partial<ServerWelcome>) | undefined;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(opts: { autoPong?: boolean } = {}): Promise<FakeGateway> {
    const http = createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, autoPong: opts.autoPong ?? true });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const gw = new FakeGateway(http, wss, `http://127.0.0.1:${(http.address() as AddressInfo).port}`);
    http.on('upgrade', (req, socket, head) => {
      gw.upgrades++;
      const status = req.url !== '/v1/agent/connect' ? 404 : req.headers.authorization !== `Bearer ${gw.acceptedToken}` ? 401 : gw.refuseWith;
      if (status) {
        const body = JSON.stringify({ error: { code: 'refused', message: `status ${status}` } });
        socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => gw.accept(ws, req.headers));
    });
    return gw;
  }

  get current(): GatewayConnection | undefined {
    return this.connections.at(-1);
  }

  send(msg: ServerToAgent, conn = this.current): void {
    conn!.ws.send(JSON.stringify(msg));
  }

  sendRaw(text: string): void {
    this.current!.ws.send(text);
  }

  /** JSON frames of one type, optionally for one job. */
  received<T extends AgentToServer['type']>(type: T, jobId?: string): Extract<AgentToServer, { type: T }>[] {
    return this.frames
      .map((f) => f.msg)
      .filter((m): m is Extract<AgentToServer, { type: T }> => m.type === type && (!jobId || ('jobId' in m && m.jobId === jobId)));
  }

  exitOf(jobId: string): AgentExit | undefined {
    return this.received('exit', jobId)[0];
  }

  /** Length of the contiguous prefix of stored chunks: what the real gateway resumes from. */
  storedPrefix(jobId: string): number {
    const stored = this.chunks.get(jobId);
    let n = 0;
    while (stored?.has(n)) n++;
    return n;
  }

  /** The job's output reassembled in seq order; throws on a gap. */
  output(jobId: string, stream?: 1 | 2): Buffer {
    const stored = this.chunks.get(jobId) ?? new Map();
    const n = this.storedPrefix(jobId);
    if (n !== stored.size) throw new Error(`gap in ${jobId}: ${stored.size} chunks stored, prefix ${n}`);
    const parts: Buffer[] = [];
    for (let seq = 0; seq < n; seq++) {
      const c = stored.get(seq)!;
      if (!stream || c.stream === stream) parts.push(c.data);
    }
    return Buffer.concat(parts);
  }

  storedBytes(jobId: string): number {
    let n = 0;
    for (const c of this.chunks.get(jobId)?.values() ?? []) n += c.data.length;
    return n;
  }

  /** Ack the stored prefix of every job (and the exits that are complete). */
  ackEverything(): void {
    for (const jobId of this.chunks.keys()) this.ackPrefix(jobId);
    for (const exit of this.received('exit')) this.maybeExitAck(exit, true);
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private accept(ws: WebSocket, headers: IncomingHttpHeaders): void {
    const conn: GatewayConnection = { ws, headers, pings: 0 };
    const index = this.connections.push(conn) - 1;
    ws.on('ping', () => conn.pings++);
    ws.on('close', (code, reason) => (conn.closed = { code, reason: reason.toString() }));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.onOutput(index, data as Buffer);
      const msg = AgentToServer.parse(JSON.parse(data.toString())); // a bad agent frame fails the test
      this.frames.push({ conn: index, msg });
      if (msg.type === 'hello') {
        conn.hello = msg;
        this.beforeWelcome?.(conn);
        const welcome: ServerWelcome = {
          type: 'welcome',
          v: PROTOCOL_VERSION,
          agentId: 'agt_test',
          heartbeatMs: this.heartbeatMs,
          resume: msg.jobs.map((j) => ({ jobId: j.jobId, nextSeq: this.storedPrefix(j.jobId) })),
          abandon: [],
          ...this.welcomeFor?.(msg),
        };
        this.send(welcome, conn);
      }
      if (msg.type === 'exit') this.maybeExitAck(msg, this.autoExitAck);
    });
  }

  private onOutput(conn: number, buf: Buffer): void {
    const frame = decodeOutputFrame(buf);
    if (typeof frame === 'string') throw new Error(`bad output frame: ${frame}`);
    this.chunkLog.push({ conn, jobId: frame.jobId, seq: frame.seq });
    let stored = this.chunks.get(frame.jobId);
    if (!stored) this.chunks.set(frame.jobId, (stored = new Map()));
    const before = stored.get(frame.seq);
    if (before && !before.data.equals(frame.data)) throw new Error(`seq ${frame.seq} of ${frame.jobId} resent with other bytes`);
    stored.set(frame.seq, { stream: frame.stream, data: Buffer.from(frame.data) });
    if (this.autoAck) this.ackPrefix(frame.jobId);
  }

  private ackPrefix(jobId: string): void {
    const n = this.storedPrefix(jobId);
    if (n > 0 && this.current && !this.current.closed) this.send({ type: 'ack', v: PROTOCOL_VERSION, jobId, seq: n - 1 });
  }

  private maybeExitAck(exit: AgentExit, enabled: boolean): void {
    if (enabled && this.storedPrefix(exit.jobId) >= exit.nextSeq && this.current && !this.current.closed) {
      this.send({ type: 'exit_ack', v: PROTOCOL_VERSION, jobId: exit.jobId });
    }
  }
}
