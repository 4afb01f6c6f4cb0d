import type { VmoClient } from '@vmo/client';
import { ExitCode } from '../exit-codes.ts';
import { colours } from '../output/colour.ts';

type OperationDetail = Awaited<ReturnType<VmoClient['operations']['get']>>;

const ENDED = new Set(['succeeded', 'failed', 'canceled']);

export interface FollowResult {
  operation: OperationDetail;
  /** 0 succeeded; 1 failed or canceled (the error printed on stderr); 75 detached by Ctrl-C. */
  exitCode: number;
}

/**
 * Follow a workspace operation to its end, as `kubectl rollout status` does: its log lines as the
 * worker writes them (on `out`: stdout, or stderr when stdout is for --json), then its final state.
 * A dropped log stream is resumed after the last line seen; Ctrl-C stops following only (the
 * operation goes on: `vmo operations cancel ID` cancels it) and exits 75, as `vmo run` detaches.
 */
export async function followOperation(client: VmoClient, id: string, out: NodeJS.WriteStream): Promise<FollowResult> {
  const abort = new AbortController();
  let detached = false;
  const onSigint = () => {
    detached = true;
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  let after: number | undefined;
  let failures = 0;
  try {
    for (;;) {
      try {
        await client.operations.followLogs(id, {
          ...(after !== undefined ? { after } : {}),
          signal: abort.signal,
          onLine: (l) => {
            after = l.seq;
            failures = 0;
            out.write(`${l.line}\n`);
          },
        });
        break;
      } catch (err) {
        if (detached) break;
        // An API error (404, 401) is final; a dropped stream (a restarted API node) is resumed.
        if ((err as { status?: number }).status !== undefined || ++failures > 5) throw err;
        await new Promise((r) => setTimeout(r, 500 * failures));
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  const operation = await client.operations.get(id);
  if (detached) {
    process.stderr.write(`\nvmo: stopped following ${id} (${operation.status}); it goes on: vmo operations logs -f ${id}, or vmo operations cancel ${id}\n`);
    return { operation, exitCode: ExitCode.detached };
  }
  if (!ENDED.has(operation.status)) return { operation, exitCode: ExitCode.detached };
  if (operation.status === 'succeeded') return { operation, exitCode: ExitCode.ok };
  const why = operation.error ? `${operation.error.code}: ${operation.error.message}` : operation.status;
  process.stderr.write(`${colours(process.stderr).red(`vmo: ${operation.type} ${operation.status}:`)} ${why}\n`);
  return { operation, exitCode: ExitCode.runFailed };
}
