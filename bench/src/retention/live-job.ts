import type { TestSystem } from '@vmo/testkit';
import { openWebSocket } from '@vmo/testkit';

export interface LiveJob {
  id: string;
  /** When each output frame reached the subscriber (ms, Date.now()). */
  arrivals: number[];
  /** Cancel the job and close the stream. */
  stop(): Promise<void>;
}

/**
 * A local job writing a line every 10 ms for `seconds` (perl: no process per line), followed over
 * the real pipeline: executor, output pump, log sink, Postgres, bus, the API's job stream, a
 * WebSocket subscriber here. Resolves once the first output frame has arrived.
 */
export async function startLiveJob(system: TestSystem, seconds: number): Promise<LiveJob> {
  const lines = Math.round(seconds * 100);
  const command = `perl -e '$|=1; for my $i (1..${lines}) { print "live line $i " . ("x" x 80) . "\\n"; select(undef, undef, undef, 0.01) }'`;
  const job = await system.client.submit({ command });
  const opened = await openWebSocket(`${system.apiUrls[0]}/v1/jobs/${job.id}/stream`, { token: system.token });
  if (opened.kind !== 'open') throw new Error(`stream refused: ${opened.status} ${opened.body}`);
  const arrivals: number[] = [];
  let first!: () => void;
  const started = new Promise<void>((resolve) => (first = resolve));
  opened.ws.on('message', (raw, isBinary) => {
    if (isBinary) return;
    const text = raw.toString();
    if (!text.startsWith('{"type":"output"')) return;
    arrivals.push(Date.now());
    if (arrivals.length === 1) first();
  });
  await started;
  return {
    id: job.id,
    arrivals,
    async stop() {
      await system.client.request('POST', `/v1/jobs/${job.id}/cancel`, { graceMs: 0 });
      await system.client.waitForEnd(job.id, 60_000);
      opened.ws.close();
    },
  };
}

/** The longest gap between consecutive times within [from, to] (and the one crossing `from`). */
export function maxGap(times: readonly number[], from: number, to: number): number {
  let max = 0;
  for (let i = 1; i < times.length; i++) {
    if (times[i]! < from || times[i - 1]! > to) continue;
    max = Math.max(max, times[i]! - times[i - 1]!);
  }
  return max;
}

/** The 99th percentile of the gaps within [from, to]. */
export function p99Gap(times: readonly number[], from: number, to: number): number {
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) if (times[i]! >= from && times[i - 1]! <= to) gaps.push(times[i]! - times[i - 1]!);
  gaps.sort((a, b) => a - b);
  return gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * 0.99))]! : 0;
}
