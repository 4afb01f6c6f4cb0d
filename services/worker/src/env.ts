import { hostname } from 'node:os';
import { z } from 'zod';
import { checkRedisMode, checkTimingRelations, commonEnv, intVar, runAsVar } from '@vmo/shared/config';
import { DEFAULT_DISPATCH_TIMEOUT_MS, DEFAULT_MAINTENANCE_MS, DEFAULT_WORKER_LOCK_MS, DEFAULT_WORKER_PRESENCE_TTL_MS, DEFAULT_WORKER_STUCK_MS } from '@vmo/shared/domain';
import { metricsHostVar, metricsPortVar, metricsTokenVar } from '@vmo/shared/metrics';
import { DEFAULT_MAX_RUN_TARGETS } from '@vmo/shared/runs';
import { sshEnv } from '@vmo/ssh';
import { checkRetentionRelations, retentionEnv } from './retention-env.ts';

export const workerEnv = z.object({
  ...commonEnv,
  /** Jobs run at once by this process (agent jobs hold a slot while they wait for the agent). */
  VMO_WORKER_CONCURRENCY: intVar(32, 1, 10_000),
  /** Local jobs run as this user (name or uid), not as the worker's: see README, "Run-as user". */
  VMO_RUN_AS: runAsVar(),
  /** How long a queued agent job waits for its agent to come online before failing. */
  VMO_DISPATCH_TIMEOUT_MS: intVar(DEFAULT_DISPATCH_TIMEOUT_MS, 100, 7 * 24 * 3600_000),
  /** On SIGTERM, how long running jobs may take to finish before they are canceled. */
  VMO_DRAIN_MS: intVar(30_000, 0, 3600_000),
  /**
   * Liveness of workers. A worker refreshes its presence key every third of the TTL; a local or
   * ssh job whose worker's key has been missing for two TTLs ends `lost`. Jobs of a worker killed
   * -9 end within about 3 × TTL + VMO_MAINTENANCE_MS (domain/timings.ts).
   */
  VMO_WORKER_PRESENCE_TTL_MS: intVar(DEFAULT_WORKER_PRESENCE_TTL_MS, 300, 3600_000),
  /** How often the reconciler, janitor and lost-worker sweep run; below VMO_AGENT_GRACE_MS and 2 × VMO_WORKER_PRESENCE_TTL_MS. */
  VMO_MAINTENANCE_MS: intVar(DEFAULT_MAINTENANCE_MS, 100, 600_000),
  /**
   * BullMQ lock of a job held by this worker. A worker that dies holding a job loses it after this
   * and another worker takes it (agent jobs are re-attached) at the next stalled check (every half
   * lock).
   */
  VMO_WORKER_LOCK_MS: intVar(DEFAULT_WORKER_LOCK_MS, 1_000, 3600_000),
  /**
   * Watchdog (issue 19): a worker whose event loop stands still this long, or that takes no job
   * this long while jobs wait and it has a free slot, logs one line and exits (70; SIGKILL for a
   * stuck event loop) for its supervisor to restart it (src/watchdog, domain/timings.ts).
   */
  VMO_WORKER_STUCK_MS: intVar(DEFAULT_WORKER_STUCK_MS, 2_000, 3600_000),
  /** As on the API: a scheduled fleet run (issue 14) matching more targets than this fails its tick with `too_many_targets`. */
  VMO_MAX_RUN_TARGETS: intVar(DEFAULT_MAX_RUN_TARGETS, 1, 100_000),
  // SSH (ssh jobs): VMO_SSH_KNOWN_HOSTS, _KEY_PASSPHRASE, _IDLE_MS, _MAX_CHANNELS, _CONNECT_TIMEOUT_MS, _KEY_DIRS, _ALLOWED_TARGETS (@vmo/ssh ssh-env.ts).
  ...sshEnv,
  /** Serve GET /metrics (Prometheus) on this port; unset: no metrics server. */
  VMO_METRICS_PORT: metricsPortVar,
  /** The address the metrics server binds to: loopback unless a remote Prometheus must reach it. */
  VMO_METRICS_HOST: metricsHostVar,
  /** When set, a scrape of the worker's /metrics must present it as a bearer token. Secret (also VMO_METRICS_TOKEN_FILE). */
  VMO_METRICS_TOKEN: metricsTokenVar,
  // Workspaces (issue 18): the operation engine (src/workspaces/engine).
  /** The control plane's URL as a workspace's agent reaches it; default http://127.0.0.1:<VMO_PORT or 3121>. */
  VMO_WORKSPACE_AGENT_URL: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL').optional(),
  /** A workspace operation with no progress (no log line, no step) for this long fails `timed_out`. */
  VMO_WORKSPACE_OPERATION_TIMEOUT_MS: intVar(15 * 60_000, 500, 7 * 24 * 3600_000),
  /** A running operation whose worker has not refreshed it for this long is taken over by another worker. */
  VMO_WORKSPACE_TAKEOVER_MS: intVar(30_000, 500, 3600_000),
  /**
   * This machine's id for host-bound workspace providers (netns, fake: their machines live on this
   * host's disk and kernel): a workspace such a provider ran here is operated only by workers with
   * the same id. Workers on one machine share it; default: the hostname.
   */
  VMO_WORKER_HOST_ID: z.string().min(1).max(253).regex(/^\S+$/, 'must not contain spaces').default(hostname()),
  /** Workspace operations this worker runs at once. */
  VMO_WORKSPACE_OPERATIONS: intVar(8, 1, 1000),
  /** How often each worker's workspace lifecycle pass runs (TTL, idle, autostart, sessions, dormancy; issue 18). */
  VMO_WORKSPACE_LIFECYCLE_INTERVAL_MS: intVar(1_000, 50, 600_000),
  // Retention (issue 14): VMO_RETENTION_DAYS, VMO_OUTPUT_RETENTION_DAYS, VMO_AUDIT_RETENTION_DAYS, VMO_RETENTION_EVERY_MS.
  ...retentionEnv,
}).superRefine(checkTimingRelations).superRefine(checkRetentionRelations).superRefine(checkRedisMode);
export type WorkerConfig = z.infer<typeof workerEnv>;
