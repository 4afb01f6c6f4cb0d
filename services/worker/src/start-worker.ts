import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import { inBackground, repeatInBackground } from '@vmo/shared/background';
import { createLogger, type Logger } from '@vmo/shared/logger';
import { BusSubscriber } from '@vmo/shared/bus';
import { openControlPlane } from '@vmo/shared/control-plane';
import { stalledCheckMs, workerPresenceRefreshMs } from '@vmo/shared/domain';
import { keepJobSecretsUntilJobsEnd, markChangesOnTransition, registerTargetGateWakeUp, stopJob } from '@vmo/shared/jobs';
import { LogSink } from '@vmo/shared/logsink';
import { JOB_QUEUE, type QueuedJobData } from '@vmo/shared/queue';
import { redisTargetOf } from '@vmo/shared/config';
import { createRedis } from '@vmo/shared/redis';
import { registerRunRollUp, sweepActiveRuns } from '@vmo/shared/runs';
import { newId } from '@vmo/shared/ids';
import { createSshPool } from '@vmo/ssh';
import type { WorkerConfig } from './env.ts';
import { agentExecutor } from './executors/agent.ts';
import { createLocalExecutor } from './executors/local.ts';
import { sshExecutor } from './executors/ssh.ts';
import { withJobSecrets } from './executors/with-job-secrets.ts';
import { createJobProcessor } from './process-job.ts';
import { logJobLifecycle } from './job-log.ts';
import { oneDeliveryPerJob } from './one-delivery-per-job.ts';
import { StopRegistry } from './stop-registry.ts';
import { OwnJobs } from './own-jobs.ts';
import { reconcileQueuedJobs } from './reconciler.ts';
import { sweepRunningAgentJobs } from './janitor.ts';
import { LostWorkerSweep } from './lost-worker-sweep.ts';
import { expireIdempotencyKeys } from './expire-idempotency-keys.ts';
import { startSchedulerLoop } from './schedules-loop.ts';
import { startReleaseDueLoop } from './release-due.ts';
import { startRetentionLoop } from './retention-loop.ts';
import { retentionPolicyOf } from './retention-env.ts';
import { clearWorkerPresence, markWorkerAlive } from './worker-presence.ts';
import { startWorkerMetrics } from './metrics.ts';
import { startEventLoopWatchdog } from './watchdog/event-loop-watchdog.ts';
import { startIntakeWatchdog } from './watchdog/intake-watchdog.ts';
import { defaultWorkspaceAgentUrl, startWorkspaceEngine } from './workspaces/engine/index.ts';
import { startWorkspaceLifecycleLoop } from './workspaces/lifecycle/lifecycle-loop.ts';

export interface WorkerHandle {
  workerId: string;
  /** Stop taking jobs, let running ones finish up to the drain timeout, then stop them. */
  close(): Promise<void>;
}

/** The CLIENT SETNAME of the connection BullMQ takes jobs and renews locks on. */
const BULL_CONNECTION_NAME = 'vmo-worker-jobs';

/** Grace between SIGTERM and SIGKILL for the jobs still running when the drain time is up. */
const DRAIN_CANCEL_GRACE_MS = 2000;

export async function startWorker(config: WorkerConfig, log: Logger = createLogger('worker', config.VMO_LOG_LEVEL)): Promise<WorkerHandle> {
  const workerId = `${hostname()}:${process.pid}:${newId('tok').slice(4, 10)}`;
  const cp = await openControlPlane(config, log);
  // The one subscriber connection of this worker (BUS.md §8): stops, and the events of the agent
  // jobs it waits on.
  const bus = BusSubscriber.open(redisTargetOf(config), cp.keys, log);
  const registry = new StopRegistry();
  // The jobs this process holds and the ends it wrote: how it finds its own jobs whose end a
  // Postgres failover lost (lost-worker-sweep.ts).
  const own = new OwnJobs();
  await bus.control((msg) => registry.onControl(msg));
  const sink = new LogSink({ sql: cp.database.sql, bus: cp, log });

  const sshPool = createSshPool(config, cp.database, log);
  const metrics = await startWorkerMetrics(config, cp, sshPool, log);
  // Roll up a run whenever one of its children starts or ends in this worker (releases the next
  // children of the run): before the BullMQ worker takes its first job.
  const stopRunRollUp = registerRunRollUp(cp);
  // Dashboards hear of the transitions this worker writes (BUS.md §10).
  const stopMarkingChanges = markChangesOnTransition(cp);

  // Per-target concurrency: the end of a job on a limited agent or host wakes the next in line.
  const stopWakingWaiters = registerTargetGateWakeUp(cp);
  const shutdown = new AbortController();
  // A line per job start and end (job-log.ts).
  const jobLog = logJobLifecycle(cp, { local: createLocalExecutor(config.VMO_RUN_AS), agent: agentExecutor(cp, bus), ssh: sshExecutor({ database: cp.database, pool: sshPool, log }) });
  const processJob = createJobProcessor({
    shutdown: shutdown.signal,
    cp,
    sink,
    registry,
    own,
    executors: withJobSecrets(cp, jobLog.executors),
    workerId,
    dispatchTimeoutMs: config.VMO_DISPATCH_TIMEOUT_MS,
  });
  // Ours to close: BullMQ leaves a connection it was given open, and takes its own 'error'
  // listener off it when it closes (ioredis then prints every later error as unhandled).
  // Named, so `CLIENT LIST` tells it from the others (BullMQ names its blocking duplicate itself).
  const bullConnection = createRedis(redisTargetOf(config), { connectionName: BULL_CONNECTION_NAME });
  bullConnection.on('error', () => {}); // reported as 'bullmq worker error' while the worker runs
  // Issue 19: a worker that takes no job while jobs wait, or whose event loop stands still, exits
  // for its supervisor to restart it, instead of looking alive while it holds nothing.
  const stuckMs = config.VMO_WORKER_STUCK_MS;
  const intake = startIntakeWatchdog({
    concurrency: config.VMO_WORKER_CONCURRENCY,
    stuckMs,
    everyMs: Math.min(5_000, Math.floor(stuckMs / 4)),
    countWaiting: async () => {
      const counts = await cp.queue.getJobCounts('wait', 'prioritized');
      return (counts.wait ?? 0) + (counts.prioritized ?? 0);
    },
    log,
  });
  const eventLoopWatchdog = startEventLoopWatchdog({ stuckMs, name: 'worker' });
  const worker = new Worker<QueuedJobData>(JOB_QUEUE, intake.counting(oneDeliveryPerJob(processJob)), {
    connection: bullConnection,
    prefix: cp.keys.bullPrefix,
    concurrency: config.VMO_WORKER_CONCURRENCY,
    lockDuration: config.VMO_WORKER_LOCK_MS,
    stalledInterval: stalledCheckMs(config.VMO_WORKER_LOCK_MS),
    // Agent jobs survive their worker: a stalled one is re-attached, never failed by BullMQ.
    maxStalledCount: 1_000_000,
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'bullmq worker error'));
  metrics.countBullErrors(worker); // vmo_redis_errors_total
  // A failed delivery leaves its job `queued` for the reconciler (or ended by whoever holds it): worth a line.
  worker.on('failed', (job, err) => log.warn({ jobId: job?.data.jobId, err: err.message }, 'job delivery failed'));

  const presenceTtlMs = config.VMO_WORKER_PRESENCE_TTL_MS;
  await markWorkerAlive(cp.redis, cp.keys, workerId, presenceTtlMs).catch(() => {}); // refreshed below, also once Redis is back
  const presence = setInterval(
    () => inBackground(log, 'worker presence refresh', markWorkerAlive(cp.redis, cp.keys, workerId, presenceTtlMs), 'debug'),
    workerPresenceRefreshMs(presenceTtlMs),
  );
  presence.unref();
  // Each its own loop: one slowed by an outage neither overlaps itself nor holds up the others.
  const lostWorkers = new LostWorkerSweep(cp, presenceTtlMs, { workerId, jobs: own });
  const everyMs = config.VMO_MAINTENANCE_MS;
  const maintenance = [
    repeatInBackground(log, 'lost-worker sweep', everyMs, () => lostWorkers.run()),
    repeatInBackground(log, 'reconciler', everyMs, () => reconcileQueuedJobs(cp)),
    repeatInBackground(log, 'janitor', everyMs, () => sweepRunningAgentJobs(cp)),
    repeatInBackground(log, 'idempotency key expiry', everyMs, () => expireIdempotencyKeys(cp)),
    // Runs whose roll-up nobody did (a process killed between a child's end and it; a bake timer lost).
    repeatInBackground(log, 'run roll-up sweep', everyMs, () => sweepActiveRuns(cp)),
    keepJobSecretsUntilJobsEnd(cp, log, everyMs), // drops an ended job's secretEnv: an observer, and a sweep for the ends it missed
    startSchedulerLoop(cp, { maxTargets: config.VMO_MAX_RUN_TARGETS }), // cron schedules: every worker, each tick fired once (issue 14)
    startReleaseDueLoop(cp), // jobs and runs whose runAt has come (issue 14)
    startRetentionLoop(cp, retentionPolicyOf(config), config.VMO_RETENTION_EVERY_MS), // ended jobs, output, fires and audit past their retention (issue 14)
    startWorkspaceLifecycleLoop(cp, { everyMs: config.VMO_WORKSPACE_LIFECYCLE_INTERVAL_MS }), // workspaces' TTL, idle, autostart, sessions, dormancy (issue 18)
  ];
  // Workspace operations (issue 18): claimed from Postgres, run through their provider.
  const workspaceEngine = startWorkspaceEngine(cp, {
    workerId,
    hostId: config.VMO_WORKER_HOST_ID,
    agentUrl: config.VMO_WORKSPACE_AGENT_URL ?? defaultWorkspaceAgentUrl(),
    timeoutMs: config.VMO_WORKSPACE_OPERATION_TIMEOUT_MS,
    takeoverMs: config.VMO_WORKSPACE_TAKEOVER_MS,
    concurrency: config.VMO_WORKSPACE_OPERATIONS,
  });
  log.info({ workerId, concurrency: config.VMO_WORKER_CONCURRENCY }, 'worker started');

  return {
    workerId,
    async close() {
      intake.stop(); // a draining worker takes no job on purpose
      const maintenanceStopped = Promise.all([...maintenance.map((loop) => loop.stop()), workspaceEngine.stop()]);
      shutdown.abort();
      const drained = worker.close();
      const timer = setTimeout(() => {
        log.warn({ running: registry.size }, 'drain timeout: stopping running jobs');
        // LOUD: record the reason first, signal second: a job killed without `cancel_reason`
        // recorded would end `failed`, as if its command had failed on its own.
        const stops = registry.ids().map((id) => stopJob(cp, id, 'canceled', DRAIN_CANCEL_GRACE_MS).catch(() => undefined));
        inBackground(log, 'stopping the jobs left at the drain timeout', Promise.all(stops).then(() => registry.stopAll({ reason: 'canceled', graceMs: DRAIN_CANCEL_GRACE_MS })), 'error');
      }, config.VMO_DRAIN_MS);
      await drained;
      clearTimeout(timer);
      await maintenanceStopped;
      stopRunRollUp();
      stopMarkingChanges();
      stopWakingWaiters();
      jobLog.stop();
      await sink.close();
      await sshPool.close();
      await metrics.close();
      clearInterval(presence);
      await clearWorkerPresence(cp.redis, cp.keys, workerId).catch(() => {});
      bus.close();
      bullConnection.disconnect();
      await cp.close();
      await eventLoopWatchdog.stop();
      log.info('worker stopped');
    },
  };
}
