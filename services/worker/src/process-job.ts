import { DelayedError, type Job } from 'bullmq';
import { isAgentRevoked } from '@vmo/shared/agents';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { DEFAULT_CANCEL_GRACE_MS, dispatchLookAgainMs, isTerminal } from '@vmo/shared/domain';
import { gateLookAgainMs, gateOpen, getJobState, getStopRequest, jobEndedOnTarget, lookAtGate, promoteDelayed, stopJob, transition, type GateLook, type JobChange, type JobRow } from '@vmo/shared/jobs';
import { inBackground } from '@vmo/shared/background';
import type { LogSink } from '@vmo/shared/logsink';
import { agentPresence } from '@vmo/shared/presence';
import type { QueuedJobData } from '@vmo/shared/queue';
import type { ExecutionResult, Executor } from './executors/executor.ts';
import { OwnJobs } from './own-jobs.ts';
import type { StopRegistry } from './stop-registry.ts';
import { retryUntilDone } from './retry-until-done.ts';

export interface ProcessJobDeps {
  cp: ControlPlane;
  sink: LogSink;
  registry: StopRegistry;
  /** The jobs this process holds and the ends it wrote (own-jobs.ts: the own-jobs sweep reads them). A process of its own when absent. */
  own?: OwnJobs;
  executors: { local: Executor; agent: Executor; ssh: Executor };
  workerId: string;
  dispatchTimeoutMs: number;
  /** Aborted when the worker begins to shut down. */
  shutdown: AbortSignal;
}

/** The processor's dependencies as its parts use them. */
type Deps = ProcessJobDeps & { own: OwnJobs };

/** How often a running job re-reads its cancel request, in case the pub/sub message was lost. */
const CANCEL_POLL_MS = 2000;

/**
 * The BullMQ processor: take a job from `queued` to a terminal status.
 *
 * LOUD: the `queued → running` transition is conditional (`start`: only from `queued`) and the
 * end is written once with the attempt as fence (`exit`, `end`). Those two are what make a second
 * delivery of the same BullMQ job (reconciler, stalled check) harmless. Never run a job without
 * winning the first.
 *
 * An agent job starts only on a presence check that said `online`; `unknown` (Redis did not
 * answer) waits like `offline` but is never held against the dispatch timeout, nor followed by the
 * revoke check (presence/agent-presence.ts).
 */
export function createJobProcessor(given: ProcessJobDeps) {
  const deps: Deps = { ...given, own: given.own ?? new OwnJobs() };
  // LOUD: held from before the start is written until the end's write was acknowledged (or the
  // delivery gave the job up): the own-jobs sweep ends a `running` row under this worker's id that
  // it does not hold (lost-worker-sweep.ts). Held any shorter, a running job would be ended.
  const takeJob = createTakeJob(deps);
  return async function processJob(bullJob: Job<QueuedJobData>, token?: string): Promise<void> {
    deps.own.hold(bullJob.data.jobId);
    try {
      return await takeJob(bullJob, token);
    } finally {
      deps.own.release(bullJob.data.jobId);
    }
  };
}

function createTakeJob(deps: Deps) {
  const { cp } = deps;
  return async function takeJob(bullJob: Job<QueuedJobData>, token?: string): Promise<void> {
    const { jobId, agentId: hintedAgent } = bullJob.data;
    // Fast path, one Postgres round trip: try `queued → running` at once. For an agent job the
    // agent's presence is checked first (Redis), and the update only matches that agent. A job
    // whose target has a limit goes through the target's gate inside the same `start`
    // (lifecycle/sql/start-job.ts); one without keeps the single statement.
    const hintedPresence = hintedAgent ? await agentPresence(cp, hintedAgent) : undefined;
    let started: JobRow | undefined;
    /** The agent the start just tried was checked for (null: no agent); undefined: no start was tried. */
    let triedFor: string | null | undefined;
    if (!hintedAgent || hintedPresence === 'online') {
      triedFor = hintedAgent ?? null;
      started = await transition(cp, jobId, { kind: 'start', workerId: deps.workerId, checkedAgentId: triedFor });
    }
    if (started) return runAndSettle(deps, started, 'fresh', bullJob, token);

    // Slow path: the job is not ours to start as it stands. Read it, with its target's limit, to learn why.
    let look = await lookAtGate(cp.database.sql, jobId);
    if (!look || isTerminal(look.job.status)) return;
    const current = look.job;
    // A held job (a stray queue entry): a run's child its run has not released, or a job whose
    // runAt has not come. Not ours to start or judge: whoever releases it (its run's roll-up, the
    // release loop: jobs/run-at) enqueues it again then (start-job.ts refuses it meanwhile).
    if (current.status === 'queued' && current.releasedAt === null) return;
    if (current.status !== 'queued') {
      // `running` but delivered to us: the worker that held it may have died (BullMQ stalled-job
      // check). Agent jobs keep running on the agent: re-attach. A local or SSH job lives or died
      // with its worker; that is not decided here, as one missed presence check is no proof of
      // death (a Redis restart empties every key): the lost-worker sweep watches for two TTLs.
      if (current.target.type !== 'agent') return;
      cp.log.info({ jobId, agentId: current.agentId, attempt: current.attempt }, 're-attaching to a running agent job');
      return runAndSettle(deps, current, 'reattach', bullJob, token);
    }
    // The agent is not known online (or the queue entry carried no agent hint). The presence
    // just checked for the hinted agent is not asked again.
    const presence = current.target.type !== 'agent' ? 'online' : current.agentId === hintedAgent ? hintedPresence! : await agentPresence(cp, current.agentId!);
    if (presence !== 'online') {
      // Revoked after this job picked it (revokeAgent ends the jobs it sees; one inserted in
      // the same instant is caught here): it will never come back, so do not wait for it.
      // Asked only on `offline`, which a revoke makes the agent: not a Postgres read on every
      // look while Redis is unreachable.
      if (presence === 'offline' && (await isAgentRevoked(cp.database.sql, current.agentId!))) {
        const message = `agent ${current.agentId} was revoked before the job started`;
        await transition(cp, jobId, { kind: 'end', from: 'queued', status: 'failed', error: { code: 'agent_revoked', message } });
        return;
      }
      // A run's child may say what to do with an offline agent at once (`skip`, `fail`); the
      // rest wait up to their dispatch timeout (the run's, else the worker's).
      if (presence === 'offline' && current.offline === 'skip') {
        const message = `agent ${current.agentId} was offline when the job came up, and its run skips offline targets`;
        await transition(cp, jobId, { kind: 'end', from: 'queued', status: 'skipped', error: { code: 'target_offline', message } });
        return;
      }
      if (presence === 'offline' && current.offline === 'fail') {
        const message = `agent ${current.agentId} was offline when the job came up, and its run counts offline targets as failures`;
        await transition(cp, jobId, { kind: 'end', from: 'queued', status: 'failed', error: { code: 'agent_offline', message } });
        return;
      }
      const dispatchTimeoutMs = current.dispatchTimeoutMs ?? deps.dispatchTimeoutMs;
      if (presence === 'offline' && Date.now() - dispatchClockStart(look).getTime() > dispatchTimeoutMs) {
        const message = `agent ${current.agentId} was not online within the dispatch timeout (${dispatchTimeoutMs} ms)`;
        await transition(cp, jobId, { kind: 'end', from: 'queued', status: 'failed', error: { code: 'agent_offline', message } });
        return;
      }
      // Wait without holding a worker slot: back to the delayed set, look again shortly.
      await bullJob.moveToDelayed(Date.now() + dispatchLookAgainMs(dispatchTimeoutMs), token);
      throw new DelayedError();
    }
    // Online (or not an agent job). A start already tried for this very agent on a limited target
    // was the gate's refusal: trying again at once would only be refused again.
    if (look.limit === null || triedFor !== current.agentId) {
      const now = await transition(cp, jobId, { kind: 'start', workerId: deps.workerId, checkedAgentId: current.agentId });
      if (now) return runAndSettle(deps, now, 'fresh', bullJob, token);
      if (look.limit === null) return; // canceled meanwhile, or another worker won
      look = await lookAtGate(cp.database.sql, jobId);
      if (!look || look.job.status !== 'queued') return;
    }
    return waitForTargetSlot(deps, look, bullJob, token);
  };
}

/**
 * The dispatch timeout runs from when the job was handed to the queue: a run's child held back by
 * its run's rate control has not been waiting for its agent all that time. Nor has a job that
 * waited its turn on a limited agent (`maxConcurrentJobs`) while the agent was online and busy:
 * its wait for the agent began when the agent was last seen (its heartbeat refreshes
 * `last_seen_at` while it is connected). A job never fails `agent_offline` for a busy target.
 */
function dispatchClockStart(look: GateLook): Date {
  const handedOver = look.job.releasedAt ?? look.job.createdAt;
  if (look.limit !== null && look.agentLastSeenAt && look.agentLastSeenAt > handedOver) return look.agentLastSeenAt;
  return handedOver;
}

/**
 * The target's gate turned the job away (its running jobs and those ahead of it fill the limit):
 * back to BullMQ's delayed set, holding no worker slot. The end of a job on the target wakes the
 * next in line at once (jobs/target-gate wake-waiters.ts, an observer the worker registers); the
 * look-again is the backstop, later the further back the job is in line.
 *
 * LOUD: a slot can free between the gate's count and this entry landing in the delayed set; the
 * wake-up of that end then found the entry still active and could not promote it. So the gate is
 * looked at once more after the entry is delayed, and if it is open the entry promotes itself.
 * That look starts only after this delivery has returned (setImmediate: after the delivery
 * wrapper's bookkeeping, one-delivery-per-job.ts, which would otherwise take the promoted entry
 * for a second delivery of the one still in progress and drop it).
 */
async function waitForTargetSlot(deps: Deps, look: GateLook, bullJob: Job<QueuedJobData>, token: string | undefined): Promise<never> {
  const { cp } = deps;
  await bullJob.moveToDelayed(Date.now() + gateLookAgainMs(look.ahead ?? 0, look.limit ?? 1), token);
  setImmediate(() =>
    inBackground(
      cp.log,
      'looking at a target gate again',
      (async () => {
        const again = await lookAtGate(cp.database.sql, look.job.id);
        if (again && gateOpen(again)) await promoteDelayed(cp.queue, look.job.id);
      })(),
      'debug',
    ),
  );
  throw new DelayedError();
}

/**
 * `fresh`: this worker has just moved the job to `running`. `reattach`: it was running under a
 * worker that may have died.
 */
type Start = 'fresh' | 'reattach';

async function runAndSettle(deps: Deps, job: JobRow, start: Start, bullJob: Job<QueuedJobData>, token: string | undefined): Promise<void> {
  const { cp } = deps;
  const jobId = job.id;
  // LOUD: this very attempt already ran here to its end, and Postgres lost both its start and its
  // end (an asynchronous failover): the reconciler handed it out again and the start numbered the
  // same attempt. Running it would run the command TWICE: its remembered end is written instead.
  // (Only this worker remembers it: handed to another worker, it does run again.)
  const ranHere = start === 'fresh' && job.target.type !== 'agent' ? deps.own.endOf(jobId, job.attempt) : undefined;
  if (ranHere) {
    cp.log.warn({ jobId, attempt: job.attempt }, 'a job that ran here to its end came back (its start and end lost in a Postgres failover?): its end is written again, it is not run twice');
    await retryUntilDone('recording the end of a job that ran here', cp.log, () => transition(cp, jobId, ranHere));
    return;
  }
  let outcome: ExecutionResult['kind'];
  try {
    outcome = await runToEnd(deps, job, start);
  } catch (err) {
    // LOUD: a job must never stay `running` because this process hit a bug or lost Postgres
    // for a moment: record the failure (fenced by attempt) before giving up on it.
    cp.log.error({ err, jobId }, 'job processing failed');
    const message = `the worker failed while running the job: ${(err as Error).message}`;
    const end: JobChange = { kind: 'end', from: 'running', attempt: job.attempt, status: 'failed', error: { code: 'internal', message } };
    deps.own.remember(jobId, job.attempt, end);
    await retryUntilDone('recording a failed job', cp.log, () => transition(cp, jobId, end));
    return;
  }
  // An agent job's end was written by the API node holding the agent (`ended`): this process's
  // lifecycle observer did not see it, so the next job waiting for its target's slot is woken here.
  if (outcome === 'ended') jobEndedOnTarget(job);
  if (outcome === 'detached') {
    // This worker is shutting down but the job runs on: hand the BullMQ job back so another
    // worker re-attaches (completing it here would leave nobody re-sending an unconfirmed run).
    await bullJob.moveToDelayed(Date.now() + 1000, token);
    throw new DelayedError();
  }
}

async function runToEnd(deps: Deps, job: JobRow, start: Start): Promise<ExecutionResult['kind']> {
  const { cp, registry } = deps;
  const controller = registry.register(job.id);
  const elapsed = Date.now() - (job.startedAt ?? new Date()).getTime();
  // LOUD: record the reason first, signal second. The exit is judged by the reason recorded in
  // Postgres; a process that dies of the SIGTERM before the record lands would end `failed`.
  const timeout = setTimeout(() => {
    void stopJob(cp, job.id, 'timed_out')
      .catch(() => {})
      .then(() => registry.stop(job.id, { reason: 'timed_out', graceMs: DEFAULT_CANCEL_GRACE_MS }));
  }, Math.max(0, job.timeoutMs - elapsed));
  // A cancel may have been recorded before we registered, or its message lost: look in Postgres.
  // The first look runs alongside the executor's own setup (see `cancelChecked`).
  const cancelPoll = setInterval(() => void checkCancel(cp, job.id, registry), CANCEL_POLL_MS);
  const cancelChecked = checkCancel(cp, job.id, registry);

  let result: ExecutionResult;
  try {
    const executor = job.target.type === 'agent' ? deps.executors.agent : job.target.type === 'ssh' ? deps.executors.ssh : deps.executors.local;
    result = await executor.run({
      job,
      stop: controller.signal,
      detach: deps.shutdown,
      sink: deps.sink,
      limits: { maxOutputBytes: cp.limits.maxOutputBytes, tailBytes: cp.limits.tailBytes },
      fresh: start === 'fresh',
      cancelChecked,
    });
  } catch (err) {
    cp.log.error({ err, jobId: job.id }, 'executor failed');
    result = { kind: 'exited', exitCode: null, signal: null, truncated: false, error: { code: 'executor_failed', message: (err as Error).message } };
  } finally {
    clearTimeout(timeout);
    clearInterval(cancelPoll);
    registry.unregister(job.id);
  }
  if (result.kind !== 'exited') return result.kind;

  // LOUD: retried until Postgres takes it. Given up, the job would stay `running` for good: its
  // worker is alive, so no sweep would ever end it. Remembered first: a Postgres failover may
  // lose the write after acknowledging it, and the own-jobs sweep then writes it again
  // (lost-worker-sweep.ts).
  const exit: JobChange = { kind: 'exit', attempt: job.attempt, exit: result };
  deps.own.remember(job.id, job.attempt, exit);
  const written = await retryUntilDone('recording the end of a job', cp.log, () => transition(cp, job.id, exit));
  if (!written && job.target.type !== 'agent') await recordRunWhoseStartWasLost(deps, job, result);
  return 'exited';
}

/**
 * The end of a job this worker ran matched nothing. Usually another writer ended it first. But
 * after an asynchronous Postgres failover the `queued → running` write itself may be gone (the
 * old primary acknowledged it and died before sending it on): the promoted standby shows the job
 * `queued` at an earlier attempt, though its command has run here. Left so, the reconciler would
 * hand it to a worker again once this delivery completes, and the command would RUN TWICE. So the
 * run is recorded as it happened: started again under this worker (the same conditional start,
 * which numbers the same attempt) and ended with the exit seen, while this delivery still holds
 * the queue entry (no other worker can have it meanwhile).
 */
async function recordRunWhoseStartWasLost(deps: Deps, job: JobRow, result: Extract<ExecutionResult, { kind: 'exited' }>): Promise<void> {
  const { cp } = deps;
  const now = await retryUntilDone('reading a job whose end matched nothing', cp.log, () => getJobState(cp.database.sql, job.id));
  if (!now || now.status !== 'queued' || now.attempt >= job.attempt) return; // ended by another writer, or retried: as it should be
  cp.log.warn({ jobId: job.id, attempt: job.attempt, recordedAttempt: now.attempt }, 'the start of a job that ran here was lost (Postgres failover?): recording its run again');
  // Conditional (only from `queued`) and safe to repeat: an answer lost after it landed is read back (start-job.ts).
  const again = await retryUntilDone('recording the lost start of a job', cp.log, () => transition(cp, job.id, { kind: 'start', workerId: deps.workerId, checkedAgentId: job.agentId ?? null }));
  if (!again) {
    cp.log.error({ jobId: job.id }, 'the lost start of a job that ran here could not be recorded again; it may run again');
    return;
  }
  const exit: JobChange = { kind: 'exit', attempt: again.attempt, exit: result };
  deps.own.remember(job.id, again.attempt, exit);
  await retryUntilDone('recording the end of a job whose start was lost', cp.log, () => transition(cp, job.id, exit));
}

async function checkCancel(cp: ControlPlane, jobId: string, registry: StopRegistry): Promise<void> {
  const stop = await getStopRequest(cp.database.sql, jobId).catch(() => undefined);
  if (stop) registry.stop(jobId, { reason: stop.reason, graceMs: stop.graceMs ?? DEFAULT_CANCEL_GRACE_MS });
}
