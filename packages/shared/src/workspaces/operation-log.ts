import type { BusSubscriber } from '../bus/bus-subscriber.ts';
import { publishOperationLog } from '../bus/publish.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { iso } from './iso-time.ts';

/**
 * A workspace operation's log (issue 18): rows in workspace_operation_logs, each published on the
 * bus (BUS.md §12) once durable. The engine (worker) appends; GET /v1/operations/{id} reads, and
 * its live stream follows.
 *
 * LOUD: never append the agent's token (or any secret) to a log: these lines are shown to whoever
 * may read the operation. The engine redacts the token it rotated from every provider line
 * (services/worker/src/workspaces/engine), but the first rule is not to write it.
 */

/** The database driver may hand timestamps back as text (db/client.ts). */

/** A line longer than this is cut (with a marker): a provider printing a blob must not fill the table. */
export const MAX_OPERATION_LOG_LINE = 4096;

export interface OperationLogLine {
  seq: number;
  at: string;
  line: string;
}

/** What Postgres can store, one line, at most MAX_OPERATION_LOG_LINE characters. */
export function cleanLogLine(line: string): string {
  // NUL is refused by a text column; lone surrogates become U+FFFD rather than an error.
  let clean = line.replace(/\0/g, '').replace(/[\r\n]+$/, '');
  clean = (clean as string & { toWellFormed(): string }).toWellFormed();
  if (clean.length > MAX_OPERATION_LOG_LINE) clean = `${clean.slice(0, MAX_OPERATION_LOG_LINE - 15)}… [line cut]`;
  return clean;
}

/** Append one line (after cleaning), then publish it. Returns the stored line. */
export async function appendOperationLog(cp: ControlPlane, operationId: string, line: string): Promise<OperationLogLine> {
  const clean = cleanLogLine(line);
  const [row] = await cp.database.sql<{ seq: string; at: Date | string }[]>`
    insert into workspace_operation_logs (operation_id, line) values (${operationId}, ${clean}) returning seq, at`;
  const stored = { seq: Number(row!.seq), at: iso(row!.at), line: clean };
  await publishOperationLog(cp, operationId, { type: 'line', ...stored }); // best effort: followers read Postgres too
  return stored;
}

/** Tell followers the operation ended (best effort: they also read its row). */
export async function publishOperationEnd(cp: ControlPlane, operationId: string, status: string): Promise<void> {
  await publishOperationLog(cp, operationId, { type: 'end', status });
}

/** The lines after `afterSeq`, oldest first, at most `limit`. */
export async function readOperationLogs(cp: ControlPlane, operationId: string, opts: { afterSeq?: number; limit?: number } = {}): Promise<OperationLogLine[]> {
  const rows = await cp.database.sql<{ seq: string; at: Date | string; line: string }[]>`
    select seq, at, line from workspace_operation_logs
    where operation_id = ${operationId} and seq > ${opts.afterSeq ?? 0}
    order by seq limit ${opts.limit ?? 10_000}`;
  return rows.map((r) => ({ seq: Number(r.seq), at: iso(r.at), line: r.line }));
}

/**
 * Every line of an operation, then each new one as it comes, until the operation has ended (and
 * its last lines are given) or `signal` aborts. Subscribes before reading Postgres, and takes a
 * bus message only as a wake-up to read the rows after the last seq given, also every `pollMs`
 * (a lost message only delays a line). Lines of one operation are appended one at a time by the
 * worker running it, so their seqs commit in order and `seq > last` misses none.
 */
export async function* followOperationLogs(
  cp: ControlPlane,
  bus: BusSubscriber,
  operationId: string,
  opts: { afterSeq?: number; signal?: AbortSignal; pollMs?: number } = {},
): AsyncGenerator<OperationLogLine, { status: string } | undefined> {
  let last = opts.afterSeq ?? 0;
  let wake: (() => void) | undefined;
  let woken = false;
  const nudge = () => {
    woken = true;
    wake?.();
  };
  const unlisten = await bus.operationLog(operationId, nudge);
  opts.signal?.addEventListener('abort', nudge, { once: true });
  try {
    for (;;) {
      woken = false;
      const [op] = await cp.database.sql<{ status: string }[]>`select status from workspace_operations where id = ${operationId}`;
      // Lines after reading the status: an ended operation's lines are all in by then.
      for (;;) {
        const page = await readOperationLogs(cp, operationId, { afterSeq: last, limit: 1000 });
        for (const line of page) {
          last = line.seq;
          yield line;
        }
        if (page.length < 1000) break;
      }
      if (!op) return undefined;
      if (!['pending', 'running', 'canceling'].includes(op.status)) return { status: op.status };
      if (opts.signal?.aborted) return undefined;
      if (!woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, opts.pollMs ?? 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  } finally {
    unlisten();
    opts.signal?.removeEventListener('abort', nudge);
  }
}
