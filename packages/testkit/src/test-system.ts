import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from './api-client.ts';
import { auditGaps } from './audit-check.ts';
import { claimRequests } from './request-ledger.ts';
import { ServiceProcess } from './service-process.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';
import { createTestPrefix, TEST_REDIS_URL } from './test-redis.ts';
import { waitFor } from './wait-for.ts';

export interface SystemOptions {
  label?: string;
  apis?: number;
  workers?: number;
  /** Extra environment for every process (e.g. short heartbeats, a small output cap). */
  env?: Record<string, string>;
  /**
   * Processes reach Postgres on this port instead of the database's own (a TcpProxy in front of
   * the real server, to cut or stall it). Test code keeps the direct URL: `databaseUrl`.
   */
  databasePort?: number;
  /**
   * Leave out the check at stop() that every mutating and every denied request a test made through
   * the testkit has its audit row (audit-check.ts). Only for fault tests that deliberately break the
   * database (a row may then be logged instead of stored) or kill the API mid-request; the reason
   * is printed when the system stops. Never to hide a missing row: fix the audit instead.
   */
  skipAuditCheck?: { reason: string };
  /**
   * Run every process of this system (APIs, workers, agents) from the built JavaScript, built
   * first when stale (ServiceProcessOptions.built). Default: VMO_TEST_BUILT=1.
   */
  built?: boolean;
}

/**
 * How long a process may take to start listening. A start costs ~3 s of CPU (tsx compiling the
 * service), which on two loaded cores (several suites at once) has been 30 s and more; a process
 * that fails exits and is reported at once, so only a slow one waits this long. Below vitest's
 * hookTimeout (90 s), so a beforeAll reports this, not its own timeout.
 */
const START_DEADLINE_MS = 75_000;

/**
 * The real control plane for an end-to-end test: N API processes and M workers on a database
 * and Redis prefix of their own, talking to each other only through Redis and Postgres.
 */
export class TestSystem {
  readonly apis: ServiceProcess[] = [];
  readonly workers: ServiceProcess[] = [];
  readonly agents: ServiceProcess[] = [];
  readonly apiUrls: string[] = [];
  readonly token = `vmo_adm_test${randomBytes(16).toString('hex')}`;
  client!: ApiClient;
  env!: Record<string, string>;
  /** The test database, reached directly (not through any proxy). */
  databaseUrl!: string;
  private db!: TestDatabase;
  private redis!: ReturnType<typeof createTestPrefix>;
  private label = 'e2e';
  /** Every origin any of its API processes listened on: the requests answered there are this system's. */
  private readonly origins = new Set<string>();
  private skipAuditCheck: { reason: string } | undefined;
  private started = false;
  private built: boolean | undefined;
  /**
   * How long stop() reads a missing audit row again before it reports it. Rows are stored before
   * the answer is sent, so a gap is normally final at once; this is the margin for a writer
   * retrying through a slow Postgres. A test of the check itself shortens it.
   */
  auditRereadMs = 10_000;

  static async start(opts: SystemOptions = {}): Promise<TestSystem> {
    const system = new TestSystem();
    await system.boot(opts);
    return system;
  }

  private async boot(opts: SystemOptions): Promise<void> {
    const label = opts.label ?? 'e2e';
    this.label = label;
    if (opts.skipAuditCheck !== undefined && !(opts.skipAuditCheck.reason?.trim().length > 0)) throw new Error('skipAuditCheck needs a reason: which fault makes rows go missing');
    this.skipAuditCheck = opts.skipAuditCheck;
    this.built = opts.built;
    this.db = await createTestDatabase(label);
    this.redis = createTestPrefix(label);
    this.databaseUrl = this.db.url;
    const processDbUrl = new URL(this.db.url);
    if (opts.databasePort !== undefined) processDbUrl.port = String(opts.databasePort);
    this.env = {
      VMO_DATABASE_URL: processDbUrl.toString(),
      VMO_REDIS_URL: TEST_REDIS_URL,
      VMO_REDIS_PREFIX: this.redis.prefix,
      VMO_ADMIN_TOKEN: this.token,
      VMO_PORT: '0',
      VMO_HOST: '127.0.0.1',
      VMO_LOG_LEVEL: 'info',
      VMO_HEARTBEAT_MS: '500',
      VMO_DRAIN_MS: '5000',
      ...opts.env,
    };
    // Redis Sentinel or Cluster given (redis-ha.ts): exactly one Redis mode (issue 19).
    if (this.env.VMO_REDIS_SENTINELS !== undefined || this.env.VMO_REDIS_CLUSTER_NODES !== undefined) delete this.env.VMO_REDIS_URL;
    const started = await Promise.allSettled([
      ...Array.from({ length: opts.apis ?? 1 }, () => this.startApi()),
      ...Array.from({ length: opts.workers ?? 1 }, () => this.startWorker()),
    ]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // The caller never gets this system, so its afterAll cannot stop it: stop what did start
      // (and drop the database) here, or the processes would load the rest of the run.
      const printed = this.logs();
      await this.stop();
      throw new Error(`the test system did not start: ${(failed.reason as Error).message}\n${printed}`);
    }
    this.client = new ApiClient(this.apiUrls[0]!, this.token);
    this.started = true;
  }

  async startApi(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    const api = new ServiceProcess('api', { ...this.env, ...extraEnv }, [], { built: this.built });
    // Same index in `apis` and `apiUrls`, whichever of several starting at once listens first.
    const index = this.apis.push(api) - 1;
    const [, url] = await api.waitForOutput(/"url":"(http:\/\/[^"]+)","msg":"api listening"/, START_DEADLINE_MS);
    this.apiUrls[index] = url!;
    this.origins.add(new URL(url!).origin);
    return api;
  }

  async startWorker(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    const worker = new ServiceProcess('worker', { ...this.env, ...extraEnv }, [], { built: this.built });
    this.workers.push(worker);
    await worker.waitForOutput(/"msg":"worker started"/, START_DEADLINE_MS);
    return worker;
  }

  /** Register an agent over REST and start a real agent process for it; resolves once it is online. */
  async startAgent(
    name: string,
    opts: { servers?: string[]; env?: Record<string, string>; args?: string[]; labels?: Record<string, string> } = {},
  ): Promise<{ id: string; token: string; process: ServiceProcess }> {
    const res = await this.client.request('POST', '/v1/agents', { name, ...(opts.labels ? { labels: opts.labels } : {}) });
    if (res.status !== 201) throw new Error(`agent registration failed: ${res.status} ${res.text}`);
    const { id, token } = res.body as { id: string; token: string };
    const proc = this.spawnAgent(token, opts);
    // The agent process starts first (START_DEADLINE_MS), then connects.
    await this.waitForAgentStatus(id, 'online', START_DEADLINE_MS);
    return { id, token, process: proc };
  }

  spawnAgent(token: string, opts: { servers?: string[]; env?: Record<string, string>; args?: string[] } = {}): ServiceProcess {
    const servers = opts.servers ?? [this.apiUrls[0]!];
    // The token in the environment, not in argv where `ps` shows it (and the agent warns).
    // An empty HOME of its own (as the test sshd gives its sessions): a login shell the agent opens
    // (`bash -l`) reads ~/.profile and ~/.bashrc, and the machine's own (a CI image's pyenv set-up)
    // can print into the session or take tens of seconds to start.
    const home = mkdtempSync(join(tmpdir(), 'vmo-agent-home-'));
    const proc = new ServiceProcess('agent', { VMO_LOG_LEVEL: 'info', HOME: home, VMO_AGENT_TOKEN: token, ...opts.env }, ['--server', servers.join(','), ...(opts.args ?? [])], { built: this.built });
    this.agents.push(proc);
    return proc;
  }

  waitForAgentStatus(id: string, status: 'online' | 'offline', timeoutMs = 20_000) {
    return waitFor(`agent ${id} ${status}`, async () => {
      const res = await this.client.request('GET', `/v1/agents/${id}`);
      return res.status === 200 && res.body.status === status ? res.body : undefined;
    }, timeoutMs, 50);
  }

  clientFor(apiIndex: number, token: string | undefined = this.token): ApiClient {
    return new ApiClient(this.apiUrls[apiIndex]!, token);
  }

  /** The end of what each process printed, for a failing test's message. */
  logs(tailChars = 12_000): string {
    return [...this.apis, ...this.workers, ...this.agents].map((p) => `── ${p.role} ${p.pid}\n${p.output.slice(-tailChars)}`).join('\n');
  }

  /**
   * Stops every process and drops the database and Redis prefix. First, unless `skipAuditCheck`,
   * checks issue 11's must-hold on what the test file did: every mutating and every denied request
   * it made through the testkit (ApiClient, `request()`, openWebSocket) to this system's APIs has
   * exactly one audit row with its request id and the right result (the rule: audit-check.ts). A
   * gap fails the file (the afterAll that calls stop() throws), listing each request without its
   * row and the test line that sent it. Everything is stopped and dropped either way.
   */
  async stop(): Promise<void> {
    const requests = claimRequests(this.origins);
    let auditProblem: Error | undefined;
    if (this.started && this.skipAuditCheck) {
      console.warn(`[testkit] ${this.label}: audit rows of ${requests.length} request(s) not checked: ${this.skipAuditCheck.reason}`);
    } else if (this.started) {
      try {
        const gaps = await auditGaps(this.databaseUrl, requests, this.auditRereadMs);
        if (gaps.length > 0) {
          const shown = gaps.slice(0, 40).map((g) => `  ${g}`).join('\n');
          auditProblem = new Error(
            `audit check (${this.label}): ${gaps.length} of ${requests.length} request(s) without their audit row (issue 11 §Audit: a row for every mutating and every denied request):\n${shown}${gaps.length > 40 ? `\n  … and ${gaps.length - 40} more` : ''}`,
          );
        }
      } catch (err) {
        auditProblem = new Error(`audit check (${this.label}): could not read audit_events: ${(err as Error).message}`);
      }
    }
    await Promise.all(this.agents.map((p) => p.stop()));
    await Promise.all([...this.apis, ...this.workers].map((p) => p.stop()));
    await this.db.drop().catch(() => {});
    await this.redis.cleanup().catch(() => {});
    if (auditProblem) throw auditProblem;
  }
}
