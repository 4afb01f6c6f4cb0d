import { hostname } from 'node:os';
import { repeatInBackground } from '@vmo/shared/background';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { settleSnapshots, type WorkspaceProvider } from '@vmo/shared/workspaces';
import { providerFor } from '../providers/index.ts';
import { claimOperation } from './operation-store.ts';
import { runOperation, type EngineDeps } from './run-operation.ts';
import { sweepDeletingSnapshots } from './snapshot-sweep.ts';

export interface WorkspaceEngineOptions {
  workerId: string;
  /** This machine (VMO_WORKER_HOST_ID): host-bound providers' workspaces stay with it. Default: the hostname. */
  hostId?: string;
  agentUrl: string;
  /** No progress for this long: the operation fails `timed_out`. */
  timeoutMs: number;
  /** A running operation not refreshed for this long is taken over (its worker died). */
  takeoverMs: number;
  /** Operations this worker runs at once. */
  concurrency: number;
  /** How often it looks for work (one indexed query). */
  pollMs?: number;
  /** How often a running operation's progress_at is refreshed and its cancel looked for. */
  heartbeatMs?: number;
  /** How long an aborted provider call may take to return. */
  abortGraceMs?: number;
  /** Tests: the providers by kind (default: the registry, providers/index.ts). */
  providerFor?: (kind: string) => WorkspaceProvider | undefined;
}

export interface WorkspaceEngine {
  /** Operations this engine runs now. */
  running(): string[];
  /** Stop claiming; abort the running ones and give them back for another worker to take over at once. */
  stop(): Promise<void>;
}

/**
 * The workspace operation engine (issue 18): every worker runs one. Every `pollMs` it claims the
 * oldest pending operation (or one whose worker died: progress_at older than takeoverMs) with FOR
 * UPDATE SKIP LOCKED, up to `concurrency` at once, and runs it (run-operation.ts). No leader, no
 * lock that can expire: Postgres rows are the only coordination, so two engines never run one
 * operation at once (the claim is one statement) and never both end one (the end is conditional
 * on claimed_by and an active status).
 */
export function startWorkspaceEngine(cp: ControlPlane, opts: WorkspaceEngineOptions): WorkspaceEngine {
  const shutdown = new AbortController();
  const runs = new Map<string, Promise<void>>();
  const heartbeatMs = opts.heartbeatMs ?? Math.max(100, Math.min(2000, Math.floor(opts.takeoverMs / 5)));
  const deps: EngineDeps = {
    cp,
    workerId: opts.workerId,
    hostId: opts.hostId ?? hostname(),
    agentUrl: opts.agentUrl,
    timeoutMs: opts.timeoutMs,
    takeoverMs: opts.takeoverMs,
    heartbeatMs,
    abortGraceMs: opts.abortGraceMs ?? 10_000,
    providerFor: opts.providerFor ?? providerFor,
  };

  // Every ~2 s: snapshots whose operation ended on a path that does not settle them (an orphan
  // delete), and deleted snapshots' data (snapshot-sweep.ts).
  let lastSweep = 0;
  const pass = async () => {
    if (Date.now() - lastSweep > 2_000) {
      lastSweep = Date.now();
      await settleSnapshots(cp.database.sql);
      await sweepDeletingSnapshots(cp, deps.hostId, deps.providerFor, shutdown.signal);
    }
    while (runs.size < opts.concurrency && !shutdown.signal.aborted) {
      const op = await claimOperation(cp, opts.workerId, opts.takeoverMs, deps.hostId);
      if (!op) return;
      cp.log.info({ opId: op.id, workspaceId: op.workspaceId, type: op.type, takeover: op.previousStatus !== 'pending' }, 'workspace operation claimed');
      const work = runOperation(deps, op, shutdown.signal)
        .catch((err: unknown) => cp.log.error({ opId: op.id, err: (err as Error).message }, 'workspace operation run failed'))
        .finally(() => runs.delete(op.id));
      runs.set(op.id, work);
    }
  };
  const loop = repeatInBackground(cp.log, 'workspace engine', opts.pollMs ?? 500, pass);

  return {
    running: () => [...runs.keys()],
    async stop() {
      await loop.stop();
      shutdown.abort();
      await Promise.allSettled([...runs.values()]);
    },
  };
}

/** The default AgentLaunch.url: the API on this machine. */
export const defaultWorkspaceAgentUrl = (env: NodeJS.ProcessEnv = process.env): string => `http://127.0.0.1:${env.VMO_PORT || 3121}`;
