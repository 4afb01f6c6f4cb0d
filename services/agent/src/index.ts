import { hostname } from 'node:os';
import type { RunAsUser } from '@vmo/shared/process';
import { FEATURE_SECRET_ENV, FEATURE_SHELL, PROTOCOL_VERSION, type AgentHello } from '@vmo/shared/protocol';
import pkg from '../package.json' with { type: 'json' };
import { AgentConnection, type ConnectionState } from './connection.ts';
import { startHeartbeat } from './heartbeat.ts';
import { JobRunner } from './job-runner.ts';
import { createLogger, type LogLevel } from './logger.ts';
import { loadPtySpawn, ShellHost } from './shell/shell-host.ts';
import { fixedToken, type TokenSource } from './token-source.ts';

export type { ConnectionState } from './connection.ts';
export { fixedToken, tokenFile, type TokenSource } from './token-source.ts';

export const AGENT_VERSION: string = pkg.version;

export interface AgentOptions {
  /** Control-plane URLs (http or https); tried in turn when one fails. */
  servers: string[];
  /**
   * This agent's token (`vmo_agt_…`), or where to read it at each connection (a token file, whose
   * rotated token is picked up without a restart: PROTOCOL.md §8).
   */
  token: string | TokenSource;
  /** Bound on unacknowledged output across all jobs (§3). Default 8 MiB. */
  bufferBytes?: number;
  /** On stop, how long running jobs may finish before they are canceled (§7). Default 30 s. */
  drainMs?: number;
  labels?: Record<string, string>;
  logLevel?: LogLevel;
  /** Run job commands as this user (resolveRunAs, `--run-as`), not as the agent's own. */
  runAs?: RunAsUser;
  /** The server refused the agent for good (revoked or unknown token, or rotated without a token file). The agent has stopped. */
  onFatal?: (reason: string) => void;
}

export interface AgentHandle {
  readonly state: ConnectionState;
  /** §7 graceful stop: no new runs, drain, cancel the rest, flush their output, close 1000. */
  stop(): Promise<void>;
}

/** Grace between SIGTERM and SIGKILL for jobs still running when the drain time is up. */
const DRAIN_CANCEL_GRACE_MS = 5_000;
/** After the last job ended, how long to wait for the server to acknowledge its output. */
const FLUSH_TIMEOUT_MS = 10_000;

/**
 * Start an agent in this process. It never exits the process and installs no signal handler:
 * `main.ts` does that for the CLI, and the control plane's `npm start` runs its built-in local
 * agent through this same function.
 */
export function startAgent(opts: AgentOptions): AgentHandle {
  const log = createLogger(opts.logLevel ?? 'info', { component: 'vmo-agent' });
  const drainMs = opts.drainMs ?? 30_000;
  let heartbeat: { stop(): void } | undefined;
  let stopping: Promise<void> | undefined;

  const connection: AgentConnection = new AgentConnection({
    servers: opts.servers,
    token: typeof opts.token === 'string' ? fixedToken(opts.token) : opts.token,
    userAgent: `vmo-agent/${AGENT_VERSION}`,
    log,
    events: {
      hello: (): AgentHello => ({
        type: 'hello',
        v: PROTOCOL_VERSION,
        agentVersion: AGENT_VERSION,
        hostname: hostname().slice(0, 255),
        os: process.platform,
        arch: process.arch,
        ...(opts.labels && { labels: opts.labels }),
        // §1: what this agent does beyond the first version 1 (§2 run.secretEnv, masked).
        // SHELL.md §S5: `shell` only where node-pty loads.
        features: shells ? [FEATURE_SECRET_ENV, FEATURE_SHELL] : [FEATURE_SECRET_ENV],
        jobs: runner.heldJobs(),
      }),
      welcome: (welcome) => {
        heartbeat?.stop();
        heartbeat = startHeartbeat(welcome.heartbeatMs, (msg) => connection.sendJson(msg), () => runner.runningCount);
        runner.resume(welcome);
        shells?.resume();
      },
      message: (msg) => {
        switch (msg.type) {
          case 'run':
            return runner.run(msg);
          case 'ack':
            return runner.ack(msg);
          case 'exit_ack':
            return runner.exitAck(msg);
          case 'cancel':
            return runner.cancel(msg);
          case 'abandon':
            return runner.abandon(msg.jobId);
          case 'shell_open':
          case 'shell_input':
          case 'shell_resize':
          case 'shell_ack':
          case 'shell_detach':
            return shells?.handle(msg);
        }
      },
      down: () => {
        heartbeat?.stop();
        heartbeat = undefined;
      },
      fatal: (reason) => {
        // Nobody will ever take this output: leave no orphaned process groups behind.
        runner.killAll();
        void shells?.killAll();
        opts.onFatal?.(reason);
      },
    },
  });
  const runner = new JobRunner(opts.bufferBytes ?? 8 * 1024 * 1024, connection, log, opts.runAs);
  const spawnPty = loadPtySpawn(log);
  const shells = spawnPty ? new ShellHost(spawnPty, connection, log, opts.runAs) : undefined;
  connection.start();

  async function drainAndClose(): Promise<void> {
    runner.refuseNewRuns();
    if (runner.runningCount > 0) log.info('stopping: letting running jobs finish', { running: runner.runningCount, drainMs });
    if (!(await waitUntil(() => runner.runningCount === 0 || connection.state === 'stopped', drainMs))) {
      log.warn('drain time is up: canceling the jobs still running', { running: runner.runningCount });
      runner.cancelAll(DRAIN_CANCEL_GRACE_MS);
      await waitUntil(() => runner.runningCount === 0, DRAIN_CANCEL_GRACE_MS + 2_000);
    }
    if (!(await waitUntil(() => runner.heldCount === 0 || connection.state === 'stopped', FLUSH_TIMEOUT_MS))) {
      log.warn('stopping with output or exits the server has not acknowledged', { held: runner.heldCount, bytes: runner.bufferedBytes });
    }
    runner.killAll();
    await shells?.killAll();
    heartbeat?.stop();
    await connection.close();
    log.info('stopped');
  }

  return {
    get state() {
      return connection.state;
    },
    stop() {
      stopping ??= drainAndClose();
      return stopping;
    },
  };
}

/** Polls `done` until it holds or `timeoutMs` passes; true if it held. Only used while stopping. */
async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
