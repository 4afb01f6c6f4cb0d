import type { Sql, TransactionSql } from 'postgres';
import { isTerminal, JOB_STATUSES } from '../../domain/job-status.ts';
import { isTerminalRun } from '../../domain/run-status.ts';
import { countsOf, readChildGroups } from '../child-counts.ts';
import { encodeRunCursor, type Hold, type RunStreamCursor, type RunStreamPosition } from './cursor.ts';
import { PAST_LAST_POSITION, seqAt } from './chunk-position.ts';
import { planOutputPage } from './plan-output-page.ts';
import { beginRunStreamRead } from './sql/begin-read.ts';
import type { RunStreamEvent } from './run-stream-events.ts';
import { readDeliveredTails } from './sql/read-delivered-tails.ts';
import { readOutputData } from './sql/read-output-data.ts';
import { readOutputKeys } from './sql/read-output-keys.ts';
import { readRunState } from './sql/read-run-progress.ts';
import { readRunQuiet } from './sql/read-run-quiet.ts';
import { readStatusChanges } from './sql/read-status-changes.ts';

export interface RunStreamLimits {
  /** Output bytes per page (a page has at least one chunk, ≤ 64 KiB). */
  pageBytes: number;
  /** Chunks per page. */
  pageChunks: number;
  /** Status changes per page. */
  pageStatuses: number;
}

/** How often a run stream with nothing left to send looks at Postgres again (per subscriber). */
export const RUN_STREAM_POLL_MS = 200;

export const DEFAULT_RUN_STREAM_LIMITS: RunStreamLimits = { pageBytes: 1024 * 1024, pageChunks: 2000, pageStatuses: 1000 };

export interface RunStreamStep {
  /** In order; each carries the cursor that resumes right after it. */
  events: RunStreamEvent[];
  /** Where the stream stands after them. */
  cursor: RunStreamCursor;
  /** The window is not finished: read again at once (pacing permitting), not after the poll interval. */
  more: boolean;
  /** `end` was sent: the run is final and everything up to it has been sent. */
  ended: boolean;
  /** The run does not exist. */
  missing: boolean;
}

/**
 * Per connection: the next chunk position (chunk-position.ts) each child is known to expect. Only a shortcut (where a range
 * scan of a child's output starts, whether a window's first chunk continues what was sent); a
 * stream resumed on another connection starts without it and works it out once from Postgres.
 */
export type ChildMemory = Map<number, number>;

/**
 * One step of a run stream: a page of output, or a window's status changes, progress and (when
 * the run is final) its end. Read in one REPEATABLE READ READ ONLY transaction.
 *
 * The cursor is a Postgres snapshot, the set of transactions whose rows were sent (plus holds,
 * see cursor.ts). A window starts by taking the current snapshot as its upper end, and sends
 * what that sees and the cursor's snapshot does not: `job_output.xid`, `jobs.status_xid` and
 * `runs.status_xid` name the transaction that wrote each row, and `pg_visible_in_snapshot` says
 * which side of the cursor it is on. That is exact even when transactions commit out of the
 * order they started (which a serial column is not): nothing is sent twice and nothing is
 * skipped, whenever a subscriber leaves and wherever it resumes.
 *
 * LOUD, the order within a window: output (pages in (index, seq) order), then the children whose
 * status changed, then the run's progress, then `end`. A child's final status is written after
 * all of its output is durable (lifecycle), so a window that sees the status sees all the output,
 * which goes first: output never follows its child's final status. And a run's final status is
 * written after every child's, so the window that sees it has everything; `end` is its last frame.
 */
export async function readRunStream(sql: Sql, cursor: RunStreamCursor, memory: ChildMemory, limits: RunStreamLimits = DEFAULT_RUN_STREAM_LIMITS): Promise<RunStreamStep> {
  return (await sql.begin('isolation level repeatable read read only', async (tx) => {
    const now = await beginRunStreamRead(tx);
    let at: RunStreamPosition = cursor.position;
    // An idle poll: one cheap statement instead of two walks over every child. Quiet means this
    // window would send nothing (read-run-quiet.ts), so its end is where the stream now stands,
    // exactly as the full read would leave it. With holds, the full read: a held child is looked into.
    if (at.phase === 'between' && at.holds.length === 0 && (await readRunQuiet(tx, { runId: cursor.runId, snapshot: at.snapshot, output: cursor.output }))) {
      return { events: [], cursor: { ...cursor, position: { phase: 'between', snapshot: now, holds: [] } }, more: false, ended: false, missing: false };
    }
    if (at.phase === 'between') {
      at = cursor.output
        ? { phase: 'output', snapshot: at.snapshot, holds: at.holds, upper: now, at: [-1, -1], nextHolds: [] }
        : { phase: 'status', snapshot: at.snapshot, upper: now, nextHolds: [], afterIndex: -1 };
    }
    const events: RunStreamEvent[] = [];
    const withPosition = (position: RunStreamPosition): RunStreamCursor => ({ ...cursor, position });

    if (at.phase === 'output') {
      const page = await readOutputPage(tx, cursor.runId, at, memory, limits);
      for (const e of page.events) events.push({ ...e.event, cursor: encodeRunCursor(withPosition(e.position)) });
      if (!page.complete) return { events, cursor: withPosition(page.position), more: true, ended: false, missing: false };
      at = { phase: 'status', snapshot: at.snapshot, upper: at.upper, nextHolds: page.position.nextHolds, afterIndex: -1 };
    }

    const changes = await readStatusChanges(tx, { runId: cursor.runId, snapshot: at.snapshot, upper: at.upper, afterIndex: at.afterIndex, limit: limits.pageStatuses + 1 });
    for (const c of changes.slice(0, limits.pageStatuses)) {
      at = { ...at, afterIndex: c.index };
      const error = c.errorCode ? { code: c.errorCode, message: c.errorMessage ?? '' } : null;
      events.push({ type: 'status', jobId: c.jobId, index: c.index, target: c.target, status: c.status, exitCode: c.exitCode, signal: c.signal, error, cursor: encodeRunCursor(withPosition(at)) });
      // Its final status is out: nothing of its output is left to look for.
      if (isTerminal(c.status)) memory.delete(c.index);
    }
    if (changes.length > limits.pageStatuses) return { events, cursor: withPosition(at), more: true, ended: false, missing: false };

    const run = await readRunState(tx, { runId: cursor.runId, snapshot: at.snapshot, upper: at.upper });
    if (!run) return { events, cursor: withPosition(at), more: false, ended: false, missing: true };
    const between = withPosition({ phase: 'between', snapshot: at.upper, holds: at.nextHolds });
    const encoded = encodeRunCursor(between);
    const error = run.errorCode ? { code: run.errorCode, message: run.errorMessage ?? '' } : null;
    // Progress only when something changed, so a resumed stream does not repeat it.
    if (at.afterIndex > -1 || (run.changedByUpper && !run.changedBySnapshot)) {
      // Counted as GET /v1/runs/{id} and the roll-up count them (child-counts.ts), in this window's snapshot.
      const counts = countsOf((await readChildGroups(tx, cursor.runId))?.groups ?? {});
      const done = JOB_STATUSES.filter(isTerminal).reduce((n, s) => n + counts[s], 0);
      events.push({ type: 'progress', status: run.status, counts, done, total: run.total, error, cursor: encoded });
    }
    // Final as of the window's upper end (not merely now): the window then holds every row before it.
    const ended = isTerminalRun(run.status) && run.changedByUpper && at.nextHolds.length === 0;
    if (ended && isTerminalRun(run.status)) events.push({ type: 'end', status: run.status, error, cursor: encoded });
    return { events, cursor: between, more: false, ended, missing: false };
  })) as RunStreamStep;
}

type OutputPosition = Extract<RunStreamPosition, { phase: 'output' }>;
type OutputEvent = Omit<Extract<RunStreamEvent, { type: 'output' }>, 'cursor'>;

/** The next page of a window's output, each event with the position right after it. */
async function readOutputPage(
  tx: TransactionSql,
  runId: string,
  at: OutputPosition,
  memory: ChildMemory,
  limits: RunStreamLimits,
): Promise<{ events: { event: OutputEvent; position: OutputPosition }[]; position: OutputPosition; complete: boolean }> {
  const holds = new Map(at.holds);
  const [fromIndex, fromPosition] = at.at[1] === PAST_LAST_POSITION ? [at.at[0] + 1, 0] : [at.at[0], at.at[1] + 1];
  // Where each child's undelivered output starts, as far as the cursor and this connection know.
  const lows = new Map(memory);
  for (const [index, position] of holds) lows.set(index, position);
  const children = [...lows].filter(([index]) => index >= fromIndex).map(([index, from]) => ({ index, from, held: holds.get(index) ?? null }));
  const keys = await readOutputKeys(tx, { runId, snapshot: at.snapshot, upper: at.upper, children, fromIndex, fromPosition, limit: limits.pageChunks + 1 });

  // The position each child's first chunk here must have: known, or found from what Postgres holds
  // (the first chunk of an attempt starts a child afresh: see continues() in chunk-position.ts).
  const expected = new Map<number, number>();
  const probes: { index: number; jobId: string; below: number }[] = [];
  for (const key of keys) {
    if (expected.has(key.index) || probes.some((p) => p.index === key.index)) continue;
    const known = key.index === fromIndex && at.at[0] === fromIndex ? fromPosition : (holds.get(key.index) ?? memory.get(key.index) ?? (seqAt(key.position) === 0 ? key.position : undefined));
    if (known !== undefined) expected.set(key.index, known);
    else probes.push({ index: key.index, jobId: key.jobId, below: key.position });
  }
  const tails = await readDeliveredTails(tx, at.upper, probes);
  for (const p of probes) expected.set(p.index, tails.get(p.jobId)! + 1);

  const plan = planOutputPage({ keys, limit: limits.pageChunks, budgetBytes: limits.pageBytes, at: at.at, nextHolds: at.nextHolds, expected });
  for (const [index, position] of plan.learned) memory.set(index, position);
  const data = await readOutputData(tx, plan.send.map((s) => s.key));
  const events = plan.send.map(({ key, holds: known }) => {
    const stored = data.get(`${key.jobId}:${key.attempt}:${key.seq}`)!;
    const position: OutputPosition = {
      ...at,
      // Holds of children before this one are spent; only those still ahead are needed to resume.
      holds: at.holds.filter(([index]) => index >= key.index),
      at: [key.index, key.position],
      nextHolds: plan.nextHolds.slice(0, known),
    };
    const event: OutputEvent = { type: 'output', jobId: key.jobId, index: key.index, target: key.target, attempt: key.attempt, seq: key.seq, stream: stored.stream === 2 ? 'stderr' : 'stdout', data: stored.data.toString('base64') };
    return { event, position };
  });
  const position: OutputPosition = { ...at, holds: at.holds.filter(([index]) => index >= plan.at[0]), at: plan.at, nextHolds: plan.nextHolds };
  return { events, position, complete: plan.complete };
}

export type { Hold };
