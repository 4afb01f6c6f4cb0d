import postgres from 'postgres';
import WebSocket from 'ws';
import { newId } from '@vmo/shared/ids';
import { generateToken, hashToken } from '@vmo/shared/tokens';
import {
  AgentCloseCode,
  encodeOutputFrame,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  ServerToAgent,
  type AgentExit,
  type AgentHello,
  type AgentToServer,
  type ServerRun,
  type ServerWelcome,
} from '@vmo/shared/protocol';
import { waitFor } from './wait-for.ts';

/**
 * Simulated agents that RUN jobs, many in one process, each on its own WebSocket to
 * /v1/agent/connect with its own token, speaking the real protocol (packages/shared/src/protocol/
 * PROTOCOL.md): §1 hello/welcome (with the jobs still held), §2 `run` → `started` (a repeated
 * `run` for a held job is answered `started` again and never starts it twice), §3 output as
 * binary frames with a dense `seq`, kept until `ack`, then `exit`, kept until `exit_ack`, §4
 * `cancel`, §5 heartbeats, §6 reconnect with resend from `welcome.resume` and `abandon`.
 *
 * No process is spawned: a command is interpreted by a tiny language, so a thousand agents cost
 * the test machine almost nothing and every job's fate is chosen by its command:
 *
 *   `true`, `:`          status 0
 *   `false`              status 1
 *   `exit N`             stop here with status N
 *   `echo WORDS`         WORDS and "\n" on stdout (one chunk; no quoting, no expansion), status 0
 *   `echo WORDS >&2`     the same on stderr
 *   `sleep S`            wait S seconds (fractions allowed), status 0; a `cancel` cuts it short
 *   steps joined by `;`  run in order; the job's exit code is the last step's status
 *   anything else        "sim: <step>: not simulated" on stderr, status 127 (as sh's "not found")
 *
 * A `cancel` ends a job still running at once as SIGTERM would (`exitCode: null`, `signal:
 * 'SIGTERM'`, `stopped: true`); a job already ended is left to its exit (§4).
 *
 * What the agents saw is recorded per job (`jobRecord`, `records()`), for tests and the bench:
 * how many `run` frames arrived, how many times the job was actually started (must be 1), whether
 * a `run` came for a job this agent had already finished and forgotten (the server starting it
 * twice), the attempts seen.
 */

/** One agent as registered (`registerSimAgents`), or any agent whose token you have. */
export interface SimAgentIdentity {
  id: string;
  name: string;
  token: string;
  labels?: Record<string, string>;
}

/** What the simulated agents saw of one job. Kept across `crash()`: it is the test's record, not the agent's memory. */
export interface SimJobRecord {
  jobId: string;
  agent: string;
  /** `run` frames received for it (the server repeats `run` until it sees `started`: more than one is legal). */
  runs: number;
  /** Times an agent began executing it. LOUD: more than one is a job started twice. */
  starts: number;
  /** `run` frames for it that arrived after the agent had finished and forgotten it (not started again, as a real agent does). */
  runsAfterEnd: number;
  /** Attempts of the `run` frames, in arrival order. */
  attempts: number[];
  /** The exit sent (last one, if resent). */
  exit: { exitCode: number | null; signal: string | null } | undefined;
  exitAcked: boolean;
  canceled: boolean;
  /** Wall-clock ms (Date.now) of the first start and of the end, on the agent's side. */
  startedAt: number | undefined;
  endedAt: number | undefined;
}

export interface SimAgentsOptions {
  /**
   * API base URLs (http://host:port). Agent i first dials `servers[i % n]` and moves to the next
   * one each time a connection fails before `welcome`, as the real agent cycles its --server list.
   * A function is asked again at each dial (servers that come and go in a fault test).
   */
  servers: string[] | (() => string[]);
  agents: SimAgentIdentity[];
  /** Connections being opened at once by `start()` (the handshake costs the API a few queries). Default 100. */
  connectConcurrency?: number;
  /** Added before every job's exit, ms (on top of any `sleep`). Default 0. */
  jobMs?: number;
  /** Reconnect backoff: full jitter from `minMs` doubling to `maxMs`. Default 100 → 2000 ms (the real agent: 500 → 30,000). */
  backoff?: { minMs: number; maxMs: number };
  /** Labels each agent reports in `hello` (a real agent's --labels). Default none. */
  reportedLabels?: (agent: SimAgentIdentity, index: number) => Record<string, string> | undefined;
}

interface Chunk {
  seq: number;
  stream: 1 | 2;
  data: Buffer;
}

interface HeldJob {
  jobId: string;
  attempt: number;
  nextSeq: number;
  /** Produced and not yet acknowledged (§3: dropped only by an ack). */
  unacked: Chunk[];
  exit: AgentExit | null;
  /** Cuts a `sleep` short on cancel or abandon. */
  abort: AbortController;
  forgotten: boolean;
}

/** How many forgotten jobs an agent remembers against a late duplicate `run` (the real agent: 10,000). */
const FINISHED_MEMORY = 10_000;
const WELCOME_TIMEOUT_MS = 15_000;

/** Register `count` agents straight into Postgres (bulk, no REST): names `${prefix}-${i}`, optional labels per agent. */
export async function registerSimAgents(
  databaseUrl: string,
  count: number,
  opts: { prefix?: string; labels?: (i: number) => Record<string, string>; maxConcurrentJobs?: number | null } = {},
): Promise<SimAgentIdentity[]> {
  const prefix = opts.prefix ?? 'sim';
  const agents: SimAgentIdentity[] = Array.from({ length: count }, (_, i) => ({
    id: newId('agt'),
    name: `${prefix}-${i}`,
    token: generateToken('agent'),
    labels: opts.labels?.(i) ?? {},
  }));
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    for (let i = 0; i < count; i += 1000) {
      const rows = agents.slice(i, i + 1000).map((a) => ({ id: a.id, name: a.name, token_hash: hashToken(a.token), labels: a.labels, max_concurrent_jobs: opts.maxConcurrentJobs ?? null }));
      await sql`
        insert into agents (id, name, token_hash, labels, max_concurrent_jobs)
        select id, name, token_hash, labels, max_concurrent_jobs
        from jsonb_to_recordset(${sql.json(rows)}) as x(id text, name text, token_hash text, labels jsonb, max_concurrent_jobs int)`;
    }
  } finally {
    await sql.end({ timeout: 2 });
  }
  return agents;
}

/** http(s)://host/base → ws(s)://host/base/v1/agent/connect (as the real agent builds it). */
function connectUrl(server: string): string {
  const url = new URL(server);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  url.pathname = url.pathname.replace(/\/+$/, '') + '/v1/agent/connect';
  return url.toString();
}

type Step = { kind: 'status'; status: number } | { kind: 'exit'; status: number } | { kind: 'echo'; stream: 1 | 2; text: string } | { kind: 'sleep'; ms: number } | { kind: 'unknown'; text: string };

/** The simulator's command language (see the file's comment). */
export function parseSimCommand(command: string): Step[] {
  return command
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s): Step => {
      if (s === 'true' || s === ':') return { kind: 'status', status: 0 };
      if (s === 'false') return { kind: 'status', status: 1 };
      let m = /^exit(?:\s+(\d{1,3}))?$/.exec(s);
      if (m) return { kind: 'exit', status: Number(m[1] ?? 0) & 255 };
      m = /^echo(?:\s+(.*?))?(\s+>&2)?$/.exec(s);
      if (m) return { kind: 'echo', stream: m[2] ? 2 : 1, text: `${m[1] ?? ''}\n` };
      m = /^sleep\s+(\d+(?:\.\d+)?)$/.exec(s);
      if (m) return { kind: 'sleep', ms: Math.round(Number(m[1]) * 1000) };
      return { kind: 'unknown', text: s };
    });
}

class SimAgent {
  ws: WebSocket | undefined;
  ready = false;
  stopped = false;
  /** Refused for good (HTTP 401 on upgrade, close 4401). */
  fatal: string | undefined;
  welcomes = 0;
  private serverIndex: number;
  private failures = 0;
  private held = new Map<string, HeldJob>();
  private finished = new Map<string, number>();
  private timers = new Set<NodeJS.Timeout>();
  private heartbeat: NodeJS.Timeout | undefined;
  private heartbeatStart: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private welcomed: (() => void)[] = [];

  constructor(
    readonly identity: SimAgentIdentity,
    private readonly index: number,
    private readonly fleet: SimAgents,
  ) {
    this.serverIndex = index;
  }

  get runningCount(): number {
    let n = 0;
    for (const j of this.held.values()) if (!j.exit) n++;
    return n;
  }
  get heldCount(): number {
    return this.held.size;
  }

  /** Resolves at the next `welcome` (or at once if ready). */
  online(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.welcomed.push(resolve));
  }

  dial(): void {
    if (this.stopped || this.fatal) return;
    const servers = this.fleet.servers();
    const url = connectUrl(servers[this.serverIndex % servers.length]!);
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${this.identity.token}`, 'User-Agent': 'vmo-sim-agent/1' },
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    let reachedReady = false;
    const welcomeTimer = setTimeout(() => ws.terminate(), WELCOME_TIMEOUT_MS);
    ws.on('unexpected-response', (_req, res) => {
      if (res.statusCode === 401) this.fatal = `HTTP 401 on upgrade`;
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => this.send(ws, this.hello(), true));
    ws.on('message', (data, isBinary) => {
      if (this.ws !== ws) return;
      if (isBinary) return this.violation(ws, 'unexpected binary frame');
      let msg: ServerToAgent;
      try {
        const parsed = ServerToAgent.safeParse(JSON.parse(data.toString()));
        if (!parsed.success) return this.violation(ws, `bad frame: ${parsed.error.issues[0]?.message}`);
        msg = parsed.data;
      } catch {
        return this.violation(ws, 'frame is not JSON');
      }
      if (!this.ready) {
        if (msg.type !== 'welcome') return this.violation(ws, `expected welcome, got ${msg.type}`);
        clearTimeout(welcomeTimer);
        reachedReady = true;
        return this.onWelcome(ws, msg);
      }
      if (msg.type === 'welcome') return this.violation(ws, 'second welcome');
      this.onMessage(msg);
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      clearTimeout(welcomeTimer);
      if (this.ws !== ws) return;
      this.fleet.noteClose(code);
      this.down();
      this.ws = undefined;
      if (code === AgentCloseCode.revoked) this.fatal = `closed ${code}`;
      if (this.fatal) for (const resolve of this.welcomed.splice(0)) resolve(); // start() must not wait for it
      if (this.stopped || this.fatal) return;
      // Stay on a server that worked; move on from one that did not (as the real agent).
      if (!reachedReady) this.serverIndex++;
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(delayMs?: number): void {
    const { minMs, maxMs } = this.fleet.backoff;
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(this.failures++, 16));
    const delay = delayMs ?? Math.random() * ceiling;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.dial(), delay);
  }

  private hello(): AgentHello {
    const labels = this.fleet.reportedLabels?.(this.identity, this.index);
    return {
      type: 'hello',
      v: PROTOCOL_VERSION,
      agentVersion: 'sim-1',
      hostname: `sim-host-${this.index}`,
      os: 'linux',
      arch: 'x64',
      ...(labels && { labels }),
      jobs: [...this.held.values()].map((j) => ({ jobId: j.jobId, attempt: j.attempt, nextSeq: j.nextSeq, ...(j.exit && { exit: { exitCode: j.exit.exitCode, signal: j.exit.signal } }) })),
    };
  }

  /** §1 + §6: abandon what the server ended, resend what it lacks, then pending exits. */
  private onWelcome(ws: WebSocket, welcome: ServerWelcome): void {
    this.ready = true;
    this.welcomes++;
    this.failures = 0;
    const every = welcome.heartbeatMs;
    // First beat at a random offset so a thousand agents do not beat in step.
    this.heartbeatStart = setTimeout(() => {
      const beat = () => this.send(ws, { type: 'heartbeat', v: PROTOCOL_VERSION, running: this.runningCount });
      beat();
      this.heartbeat = setInterval(beat, every);
    }, Math.random() * every);
    for (const jobId of welcome.abandon) this.abandon(jobId);
    const resumeAt = new Map(welcome.resume.map((r) => [r.jobId, r.nextSeq]));
    for (const job of this.held.values()) {
      const from = resumeAt.get(job.jobId) ?? 0;
      // Stored on the server: as good as an ack.
      job.unacked = job.unacked.filter((c) => c.seq >= from);
      for (const c of job.unacked) this.sendChunk(job.jobId, c);
      if (job.exit) this.send(ws, job.exit);
    }
    for (const resolve of this.welcomed.splice(0)) resolve();
  }

  private onMessage(msg: Exclude<ServerToAgent, ServerWelcome>): void {
    switch (msg.type) {
      case 'run':
        return this.onRun(msg);
      case 'ack': {
        const job = this.held.get(msg.jobId);
        if (job) job.unacked = job.unacked.filter((c) => c.seq > msg.seq);
        return;
      }
      case 'exit_ack': {
        const job = this.held.get(msg.jobId);
        if (!job || !job.exit) return; // an exit_ack for a job still running is ignored (§3)
        this.fleet.record(msg.jobId, this.identity.name).exitAcked = true;
        return this.forget(job);
      }
      case 'cancel': {
        const job = this.held.get(msg.jobId);
        if (!job || job.exit) return; // not held, or the cancel crossed its exit (§4)
        this.fleet.record(msg.jobId, this.identity.name).canceled = true;
        job.abort.abort();
        return this.end(job, { exitCode: null, signal: 'SIGTERM', stopped: true });
      }
      case 'abandon':
        return this.abandon(msg.jobId);
    }
  }

  /** §2 */
  private onRun(msg: ServerRun): void {
    const rec = this.fleet.record(msg.jobId, this.identity.name);
    rec.runs++;
    rec.attempts.push(msg.attempt);
    const held = this.held.get(msg.jobId);
    if (held) {
      // LOUD: never a second start for one job; the server repeats `run` until it sees `started`.
      return this.sendStarted(held);
    }
    if (this.finished.get(msg.jobId) === msg.attempt) {
      rec.runsAfterEnd++;
      return;
    }
    const job: HeldJob = { jobId: msg.jobId, attempt: msg.attempt, nextSeq: 0, unacked: [], exit: null, abort: new AbortController(), forgotten: false };
    this.held.set(job.jobId, job);
    rec.starts++;
    rec.startedAt ??= Date.now();
    this.sendStarted(job);
    void this.execute(job, msg.command);
  }

  private async execute(job: HeldJob, command: string): Promise<void> {
    let status = 0;
    for (const step of parseSimCommand(command)) {
      if (job.abort.signal.aborted) return;
      if (step.kind === 'status') status = step.status;
      else if (step.kind === 'exit') {
        status = step.status;
        break;
      } else if (step.kind === 'echo') {
        this.output(job, step.stream, step.text);
        status = 0;
      } else if (step.kind === 'sleep') {
        await this.sleep(step.ms, job.abort.signal);
        status = 0;
      } else {
        this.output(job, 2, `sim: ${step.text}: not simulated\n`);
        status = 127;
      }
    }
    if (this.fleet.jobMs > 0) await this.sleep(this.fleet.jobMs, job.abort.signal);
    if (job.abort.signal.aborted || job.forgotten) return;
    this.end(job, { exitCode: status, signal: null, stopped: false });
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timers = this.timers;
      const timer = setTimeout(done, ms);
      timers.add(timer);
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        timers.delete(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }

  private output(job: HeldJob, stream: 1 | 2, text: string): void {
    // LOUD: buffer first, send second: a chunk is dropped only by an ack (§3).
    const chunk: Chunk = { seq: job.nextSeq++, stream, data: Buffer.from(text) };
    job.unacked.push(chunk);
    this.sendChunk(job.jobId, chunk);
  }

  private end(job: HeldJob, how: { exitCode: number | null; signal: string | null; stopped: boolean }): void {
    if (job.exit || job.forgotten) return;
    job.exit = { type: 'exit', v: PROTOCOL_VERSION, jobId: job.jobId, attempt: job.attempt, exitCode: how.exitCode, signal: how.signal, nextSeq: job.nextSeq, truncated: false, stopped: how.stopped };
    const rec = this.fleet.record(job.jobId, this.identity.name);
    rec.exit = { exitCode: how.exitCode, signal: how.signal };
    rec.endedAt = Date.now();
    if (this.ws && this.ready) this.send(this.ws, job.exit);
  }

  private abandon(jobId: string): void {
    const job = this.held.get(jobId);
    if (!job) return;
    job.abort.abort();
    this.forget(job);
  }

  private forget(job: HeldJob): void {
    job.forgotten = true;
    this.held.delete(job.jobId);
    this.finished.set(job.jobId, job.attempt);
    if (this.finished.size > FINISHED_MEMORY) this.finished.delete(this.finished.keys().next().value!);
  }

  private sendStarted(job: HeldJob): void {
    if (this.ws && this.ready) this.send(this.ws, { type: 'started', v: PROTOCOL_VERSION, jobId: job.jobId, attempt: job.attempt, pid: 100_000 + this.index });
  }

  private sendChunk(jobId: string, c: Chunk): void {
    if (this.ws && this.ready && this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeOutputFrame({ jobId, seq: c.seq, stream: c.stream, data: c.data }), { binary: true });
  }

  private send(ws: WebSocket, msg: AgentToServer, beforeReady = false): void {
    if ((this.ready || beforeReady) && this.ws === ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  private violation(ws: WebSocket, why: string): void {
    this.fleet.protocolErrors.push(`${this.identity.name}: ${why}`);
    ws.close(AgentCloseCode.policy, why.slice(0, 120));
  }

  /** Left ready: stop sending; jobs keep "running" and their output waits for the next welcome. */
  private down(): void {
    this.ready = false;
    clearTimeout(this.heartbeatStart);
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** The connection breaks without a close frame (a network cut); the agent keeps its jobs and reconnects. */
  cut(): void {
    this.ws?.terminate();
  }

  /**
   * kill -9 and restart: the socket dies without a close frame and everything the agent held is
   * gone (jobs, unacknowledged output, pending exits, its memory of finished jobs). It dials
   * again after `restartAfterMs`, with an empty `hello` (§6: the server ends what it had
   * confirmed on it `lost`).
   */
  crash(restartAfterMs: number): void {
    const ws = this.ws;
    this.ws = undefined;
    this.down();
    for (const job of this.held.values()) job.abort.abort();
    this.held.clear();
    this.finished.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    ws?.terminate();
    this.scheduleReconnect(restartAfterMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.down();
    for (const job of this.held.values()) job.abort.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const ws = this.ws;
    this.ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    if (ws.readyState !== WebSocket.OPEN) return void ws.terminate();
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => ws.terminate(), 2000);
      ws.once('close', () => {
        clearTimeout(cut);
        resolve();
      });
      ws.close(AgentCloseCode.normal, 'sim agent stopping');
    });
  }
}

/**
 * A fleet of simulated agents in this process (see the comment at the top of this file).
 *
 *   const agents = await registerSimAgents(system.databaseUrl, 1000, { labels: (i) => ({ fleet: 'a' }) });
 *   const sim = new SimAgents({ servers: system.apiUrls, agents });
 *   await sim.start();                 // every agent welcomed
 *   … POST /v1/runs …
 *   expect(sim.records().every((r) => r.starts === 1)).toBe(true);
 *   await sim.stop();
 */
export class SimAgents {
  private readonly agents: SimAgent[];
  private readonly byName = new Map<string, SimAgent>();
  private readonly jobs = new Map<string, SimJobRecord>();
  private readonly serverList: () => string[];
  readonly backoff: { minMs: number; maxMs: number };
  readonly jobMs: number;
  readonly reportedLabels: SimAgentsOptions['reportedLabels'];
  /** Frames from the server that broke the protocol (the agent closed 1008), as `name: why`. */
  readonly protocolErrors: string[] = [];
  /** Close codes seen on agent sockets (1006: cut; 1012: API going away; 4409: replaced). */
  readonly closeCodes: Record<number, number> = {};

  constructor(private readonly opts: SimAgentsOptions) {
    const servers = opts.servers;
    this.serverList = typeof servers === 'function' ? servers : () => servers;
    this.backoff = opts.backoff ?? { minMs: 100, maxMs: 2000 };
    this.jobMs = opts.jobMs ?? 0;
    this.reportedLabels = opts.reportedLabels;
    this.agents = opts.agents.map((a, i) => new SimAgent(a, i, this));
    for (const a of this.agents) this.byName.set(a.identity.name, a);
  }

  /** @internal */
  servers(): string[] {
    const list = this.serverList();
    if (list.length === 0) throw new Error('SimAgents: no server to dial');
    return list;
  }

  /** @internal */
  noteClose(code: number): void {
    this.closeCodes[code] = (this.closeCodes[code] ?? 0) + 1;
  }

  /** @internal The record of a job (created on first sight). */
  record(jobId: string, agent: string): SimJobRecord {
    let rec = this.jobs.get(jobId);
    if (!rec) {
      rec = { jobId, agent, runs: 0, starts: 0, runsAfterEnd: 0, attempts: [], exit: undefined, exitAcked: false, canceled: false, startedAt: undefined, endedAt: undefined };
      this.jobs.set(jobId, rec);
    }
    return rec;
  }

  /** Dial every agent (`connectConcurrency` handshakes at a time); resolves once each has been welcomed. */
  async start(timeoutMs = 60_000): Promise<void> {
    const inFlight = this.opts.connectConcurrency ?? 100;
    let next = 0;
    const deadline = Date.now() + timeoutMs;
    const lane = async () => {
      while (next < this.agents.length) {
        const agent = this.agents[next++]!;
        agent.dial();
        await Promise.race([agent.online(), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, this.agents.length) }, lane));
    await this.waitOnline(Math.max(1000, deadline - Date.now()));
  }

  /** Wait until every agent (not stopped) is connected and welcomed. */
  async waitOnline(timeoutMs = 60_000): Promise<void> {
    await waitFor(`every simulated agent welcomed`, () => {
      const fatal = this.agents.find((a) => a.fatal);
      if (fatal) throw new Error(`simulated agent ${fatal.identity.name} refused: ${fatal.fatal}`);
      return this.agents.every((a) => a.ready || a.stopped);
    }, timeoutMs, 20).catch((err: Error) => {
      const offline = this.agents.filter((a) => !a.ready && !a.stopped).length;
      throw new Error(`${err.message} (${offline} of ${this.agents.length} not online)`);
    });
  }

  get size(): number {
    return this.agents.length;
  }

  /** Agents connected and welcomed right now. */
  get onlineCount(): number {
    return this.agents.filter((a) => a.ready).length;
  }

  /** Jobs held right now (running, or ended and not yet acknowledged), over all agents. */
  get heldCount(): number {
    return this.agents.reduce((n, a) => n + a.heldCount, 0);
  }

  jobRecord(jobId: string): SimJobRecord | undefined {
    return this.jobs.get(jobId);
  }

  records(): SimJobRecord[] {
    return [...this.jobs.values()];
  }

  /** Totals over every job seen: what a test or the bench asserts on. */
  totals(): { jobs: number; runs: number; starts: number; startedTwice: number; runsAfterEnd: number; exitsAcked: number } {
    let runs = 0;
    let starts = 0;
    let startedTwice = 0;
    let runsAfterEnd = 0;
    let exitsAcked = 0;
    for (const r of this.jobs.values()) {
      runs += r.runs;
      starts += r.starts;
      if (r.starts > 1) startedTwice++;
      runsAfterEnd += r.runsAfterEnd;
      if (r.exitAcked) exitsAcked++;
    }
    return { jobs: this.jobs.size, runs, starts, startedTwice, runsAfterEnd, exitsAcked };
  }

  private agent(name: string): SimAgent {
    const a = this.byName.get(name);
    if (!a) throw new Error(`no simulated agent named ${name}`);
    return a;
  }

  /** Cut one agent's connection (no close frame); it keeps its jobs and reconnects with backoff (§6). */
  cut(name: string): void {
    this.agent(name).cut();
  }

  /** Cut every agent's connection at once (as an API node's death does). */
  cutAll(): void {
    for (const a of this.agents) a.cut();
  }

  /** kill -9 and restart one agent: it forgets everything and reconnects after `restartAfterMs` with an empty hello. */
  crash(name: string, restartAfterMs = 0): void {
    this.agent(name).crash(restartAfterMs);
  }

  /** Close every socket (1000) and stop reconnecting. */
  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
  }
}
